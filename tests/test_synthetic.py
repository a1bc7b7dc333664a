import json

import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
from PIL import Image, ImageDraw
from rasterio.crs import CRS
from rasterio.features import rasterize
from rasterio.windows import Window
from scipy.ndimage import binary_dilation

from quakeslide.synthetic import (
    SceneSpec,
    build_layout,
    landslide_polygons,
    make_scene,
    render_window,
)

SPEC = SceneSpec(height=512, width=512, seed=3)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(bool), b.astype(bool)
    return (a & b).sum() / max((a | b).sum(), 1)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return make_scene(tmp_path_factory.mktemp("synth"), "s", SPEC)


@pytest.fixture(scope="module")
def arrays(scene):
    with rasterio.open(scene.image_path) as src:
        image = src.read()
    with rasterio.open(scene.mask_path) as src:
        mask = src.read(1)
    return image, mask


def test_georeference(scene):
    for path, count in ((scene.image_path, 3), (scene.mask_path, 1)):
        with rasterio.open(path) as src:
            assert src.crs == CRS.from_string(SPEC.crs)
            assert src.transform == SPEC.transform
            assert src.res == pytest.approx((0.61, 0.61))
            assert (src.transform.c, src.transform.f) == SPEC.origin
            assert src.count == count
            assert src.dtypes == ("uint8",) * count
            assert (src.height, src.width) == (512, 512)
            assert src.block_shapes[0] == (256, 256)
            assert src.compression.name.lower() == "deflate"
            assert src.nodata is None


def test_polygons_inside_scene_and_gpkg_crs(scene):
    info = pyogrio.read_info(scene.polygons_path)
    assert CRS.from_user_input(info["crs"]) == CRS.from_string(SPEC.crs)
    assert info["geometry_type"] == "Polygon"
    assert list(info["fields"]) == ["id", "area_m2"]
    _, _, geometry, (ids, areas) = pyogrio.raw.read(scene.polygons_path)
    polygons = shapely.from_wkb(geometry)
    assert len(polygons) == scene.n_landslides > 0
    assert list(ids) == list(range(1, len(polygons) + 1))
    np.testing.assert_allclose(areas, shapely.area(polygons))
    bounds = shapely.box(*SPEC.bounds).buffer(1e-6)
    assert all(bounds.contains(p) for p in polygons)
    assert all(p.is_valid for p in polygons)


def test_gpkg_rasterises_to_mask(scene, arrays):
    _, mask = arrays
    _, _, geometry, _ = pyogrio.raw.read(scene.polygons_path)
    burned = rasterize(
        shapely.from_wkb(geometry), out_shape=mask.shape, transform=SPEC.transform, dtype="uint8"
    )
    assert set(np.unique(mask)) <= {0, 1}
    assert _iou(burned, mask) > 0.99


def test_truth_inventory_is_one_polygon_per_scar_tiling_the_truth(scene):
    """Touching scars stay apart in the inventory; together they cover the truth exactly."""
    _, _, merged, _ = pyogrio.raw.read(scene.polygons_path)
    _, _, scars, (ids, areas) = pyogrio.raw.read(scene.inventory_path)
    merged, scars = shapely.from_wkb(merged), shapely.from_wkb(scars)
    assert len(scars) == scene.n_scars > len(merged) == scene.n_landslides
    layout = build_layout(SPEC)
    assert scene.n_scars == len(layout.slides.polygons)
    assert shapely.area(scars).sum() == pytest.approx(shapely.area(merged).sum(), rel=1e-9)
    union = shapely.union_all(scars)
    assert union.symmetric_difference(shapely.union_all(merged)).area < 1e-6
    pairs = shapely.STRtree(scars).query(scars, predicate="intersects")
    overlaps = [scars[i].intersection(scars[j]).area for i, j in pairs.T if i < j]
    assert max(overlaps, default=0.0) < 1e-6, "scars may touch, never overlap"
    np.testing.assert_allclose(areas, shapely.area(scars))


def test_labelme_matches_mask(scene, arrays):
    _, mask = arrays
    doc = json.loads(scene.labelme_path.read_text())
    assert doc["version"] == "5.2.1"
    assert doc["imagePath"] == scene.image_path.name
    assert doc["imageData"] is None
    assert (doc["imageHeight"], doc["imageWidth"]) == mask.shape
    assert len(doc["shapes"]) == scene.n_landslides
    canvas = Image.new("L", (mask.shape[1], mask.shape[0]), 0)
    draw = ImageDraw.Draw(canvas)
    for shape in doc["shapes"]:
        assert shape["label"] == "landslide"
        assert shape["shape_type"] == "polygon"
        assert shape["group_id"] is None and shape["flags"] == {}
        points = np.asarray(shape["points"])
        assert points.min() >= 0 and points[:, 0].max() <= 512 and points[:, 1].max() <= 512
        draw.polygon([tuple(p) for p in points], fill=1, outline=1)
    drawn = np.asarray(canvas).astype(bool)
    truth = mask.astype(bool)
    # Labelme's own rasterisation (PIL, as here) floors vertices and fills inclusively, so it
    # adds up to one pixel around each outline: on small scars the IoU is ~0.93-0.95. Check
    # that the drawn mask sits between the truth and the truth grown by one pixel.
    assert _iou(drawn, truth) > 0.9
    assert (truth & ~drawn).sum() < 1e-3 * truth.sum()
    assert (drawn & ~binary_dilation(truth, np.ones((3, 3)))).sum() < 1e-3 * truth.sum()


def test_landslides_look_like_bare_soil(scene, arrays):
    image, mask = arrays
    assert 0.03 < scene.landslide_fraction < 0.3
    assert scene.landslide_fraction == pytest.approx(mask.mean())
    slide = image[:, mask == 1].astype(float).mean(axis=1)
    background = image[:, mask == 0].astype(float).mean(axis=1)
    assert slide.sum() > background.sum() + 100  # brighter
    assert slide[0] - slide[1] > background[0] - background[1] + 20  # redder than vegetation
    assert slide[0] > slide[1] > slide[2]  # tan to brown


def test_confusers_present(scene, arrays):
    assert scene.river and scene.n_roads >= 1 and scene.n_houses >= 1
    layout = build_layout(SPEC)
    image, _ = arrays
    rgb = image.astype(int)

    def pixels(geoms):
        return rasterize(geoms, out_shape=image.shape[1:], transform=SPEC.transform) == 1

    water = pixels([layout.river])
    assert water.mean() > 0.01
    r, g, b = rgb[:, water].mean(axis=1)
    assert b > r and g > r  # grey-blue / turquoise
    for geoms in (layout.gravel_bars, layout.roads):
        grey = rgb[:, pixels(geoms)].mean(axis=1)
        assert np.ptp(grey) < 15  # neutral grey, unlike tan scars
    assert pixels(layout.houses).sum() > 100
    obstacles = shapely.union_all(
        [layout.river, *layout.gravel_bars, *layout.roads, *layout.houses]
    )
    assert not any(p.intersects(obstacles) for p in layout.landslides)


def test_deterministic(arrays):
    image, mask = arrays
    window = Window(0, 0, 512, 512)
    again, again_mask = render_window(build_layout(SPEC), window)
    np.testing.assert_array_equal(again, image)
    np.testing.assert_array_equal(again_mask, mask)
    other, _ = render_window(build_layout(SceneSpec(height=512, width=512, seed=4)), window)
    assert (other != image).mean() > 0.5


def test_windows_are_seamless(arrays):
    """A pixel does not depend on the window that rendered it."""
    image, mask = arrays
    layout = build_layout(SPEC)
    for window in (Window(100, 37, 200, 150), Window(500, 0, 12, 512), Window(0, 511, 512, 1)):
        rgb, m = render_window(layout, window)
        rows, cols = window.toslices()
        np.testing.assert_array_equal(rgb, image[:, rows, cols])
        np.testing.assert_array_equal(m, mask[rows, cols])


def test_polygons_in_crs_and_reproducible():
    a = landslide_polygons(SPEC)
    b = landslide_polygons(SPEC)
    assert len(a) == len(b) > 0
    assert all(p.equals_exact(q, 0.0) for p, q in zip(a, b, strict=True))
    xmin, ymin, xmax, ymax = shapely.total_bounds(a)
    sxmin, symin, sxmax, symax = SPEC.bounds
    assert sxmin <= xmin < xmax <= sxmax and symin <= ymin < ymax <= symax
    assert shapely.union_all(a).area == pytest.approx(sum(p.area for p in a))  # no overlaps


def test_sizes_scale_with_spec():
    small = landslide_polygons(SceneSpec(height=256, width=256, seed=1))
    scene_area = (256 * 0.61) ** 2
    assert max(p.area for p in small) < 0.1 * scene_area
    assert landslide_polygons(SceneSpec(height=256, width=256, landslide_density=0.0)) == []


def test_invalid_spec():
    with pytest.raises(ValueError):
        SceneSpec(landslide_density=0.9)
