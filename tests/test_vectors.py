import numpy as np
import pytest
from rasterio.crs import CRS
from rasterio.transform import from_origin

from quakeslide.io.vectors import polygonize


def square_mask():
    mask = np.zeros((20, 20), np.uint8)
    mask[5:15, 5:15] = 1  # 10 x 10 pixels
    mask[0, 0] = 1  # a separate one-pixel landslide
    return mask


def test_areas_in_metres_for_metric_feet_and_geographic_crs():
    mask = square_mask()
    prob = mask * 0.9
    metric = polygonize(mask, prob, from_origin(0, 20, 0.61, 0.61), CRS.from_epsg(32648))
    assert [round(ls.area_m2, 4) for ls in metric] == [round(0.61**2, 4), round(100 * 0.61**2, 4)]
    assert metric[1].perimeter_m == pytest.approx(40 * 0.61)
    assert metric[1].mean_probability == pytest.approx(0.9)
    feet = polygonize(mask, prob, from_origin(0, 20, 2.0, 2.0), CRS.from_epsg(2227))
    assert feet[1].area_m2 == pytest.approx(100 * (2.0 * 0.3048006) ** 2, rel=1e-5)
    degree = 0.61 / 111_320  # about 0.61 m at the equator
    geographic = polygonize(
        mask, prob, from_origin(103.0, 0.001, degree, degree), CRS.from_epsg(4326)
    )
    assert geographic[1].area_m2 == pytest.approx(100 * 0.61**2, rel=0.02)


def test_min_area_drops_small_landslides():
    mask = square_mask()
    kept = polygonize(mask, mask * 1.0, from_origin(0, 20, 1, 1), CRS.from_epsg(32648), 2.0)
    assert len(kept) == 1 and kept[0].area_m2 == pytest.approx(100)


def random_landslides(seed: int, size: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """Blobs, a ring with a hole, a U shape whose arms meet only far below, diagonal pixels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    mask = np.zeros((size, size), np.uint8)
    for _ in range(25):
        cy, cx, r = rng.integers(0, size, 2).tolist() + [int(rng.integers(2, 12))]
        mask[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = 1
    ring = ((yy - 60) ** 2 + (xx - 60) ** 2 < 30**2) & ((yy - 60) ** 2 + (xx - 60) ** 2 > 20**2)
    mask[ring] = 1
    mask[5:100, 2:5] = mask[5:100, 10:13] = mask[97:100, 2:13] = 1  # U: arms join at the bottom
    mask[110, 110] = mask[111, 111] = 1  # diagonal neighbours: two regions (4-connectivity)
    return mask, rng.random((size, size)).astype(np.float32) * mask


def as_table(landslides) -> list[tuple]:
    return sorted(
        (round(ls.area_px, 6), round(ls.perimeter_m, 6), round(ls.mean_probability, 6),
         ls.geometry.normalize().wkt)
        for ls in landslides
    )  # fmt: skip


@pytest.mark.parametrize("band_rows", [1, 7, 16, 33])
@pytest.mark.parametrize("seed", [0, 1])
def test_band_by_band_polygons_equal_whole_raster_polygons(band_rows, seed):
    mask, prob = random_landslides(seed)
    transform, crs = from_origin(500000, 3400000, 0.61, 0.61), CRS.from_epsg(32648)
    whole = polygonize(mask, prob, transform, crs)
    banded = polygonize(mask, prob, transform, crs, band_rows=band_rows)
    assert len(banded) == len(whole)
    assert as_table(banded) == as_table(whole)
    assert all(ls.geometry.is_valid and ls.geometry.geom_type == "Polygon" for ls in banded)


def test_region_crossing_every_band_is_one_polygon_with_its_hole():
    mask, prob = random_landslides(0)
    ring = polygonize(mask, prob, from_origin(0, 120, 1, 1), None, band_rows=3)
    holes = [ls for ls in ring if len(ls.geometry.interiors) > 0]
    assert holes, "the ring lost its hole when merged across bands"


def test_plain_image_areas_in_pixels_unless_pixel_size_is_given():
    mask = square_mask()
    identity = from_origin(0, 0, 1, -1)
    plain = polygonize(mask, mask * 1.0, identity, None)
    assert np.isnan(plain[1].area_m2) and plain[1].area_px == 100
    sized = polygonize(mask, mask * 1.0, identity, None, pixel_size=0.5)
    assert sized[1].area_m2 == pytest.approx(25) and sized[1].perimeter_m == pytest.approx(20)
    assert len(polygonize(mask, mask * 1.0, identity, None, min_area_m2=2)) == 1


def test_band_regions_forget_pieces_that_cannot_grow():
    """Memory stays bounded by a band: after 200 bands only lower-edge pieces are kept."""
    from quakeslide.io.regions import BandRegions

    rng = np.random.default_rng(3)
    builder, total, largest = BandRegions(), 0, 0
    for band in range(200):
        mask = rng.random((8, 64)) < 0.05
        total += len(builder.add(mask, mask.astype(np.float32), band * 8, last=band == 199))
        largest = max(largest, len(builder.parent))
    assert total > 500
    assert largest <= 2 * 64  # pieces on one band's lower edge and their roots
    assert len(builder.parent) == 0 and len(builder.regions) == 0


def test_landslides_stream_in_chunks_to_one_geopackage(tmp_path):
    """Chunks keep running ids; the GeoPackage holds every chunk; no landslide: empty layer."""
    import pyogrio.raw

    from quakeslide.io.regions import iter_regions
    from quakeslide.io.vectors import LandslideWriter, iter_landslides

    mask, prob = random_landslides(3)
    transform, crs = from_origin(0, 120, 1, 1), CRS.from_epsg(32648)
    regions = iter_regions(lambda row0, rows: (mask[row0 : row0 + rows] > 0,
                                               prob[row0 : row0 + rows]), 120, 7)  # fmt: skip
    chunks = list(iter_landslides(regions, transform, crs, chunk=3))
    assert len(chunks) > 2 and all(len(c) <= 3 for c in chunks)
    ids = [ls.id for chunk in chunks for ls in chunk]
    assert ids == list(range(1, len(ids) + 1))
    writer = LandslideWriter(tmp_path / "all.gpkg", crs)
    for chunk in chunks:
        writer.write(chunk)
    _, _, geometries, fields = pyogrio.raw.read(writer.finish())
    assert list(fields[0]) == ids and len(geometries) == len(ids)
    whole = polygonize(mask, prob, transform, crs)
    assert sorted(fields[2]) == pytest.approx(sorted(ls.area_m2 for ls in whole))
    empty = LandslideWriter(tmp_path / "none.gpkg", crs)
    empty.write([])
    _, _, geometries, _ = pyogrio.raw.read(empty.finish())
    assert len(geometries) == 0
