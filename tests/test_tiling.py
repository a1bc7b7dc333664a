"""`quakeslide tile` on the inputs users really have, and its errors on broken ones."""

import csv
import json
from pathlib import Path

import numpy as np
import pyogrio.raw
import pytest
import rasterio
import shapely
from PIL import Image
from rasterio.warp import transform_geom
from rasters import write_geotiff
from typer.testing import CliRunner

from quakeslide.cli import app
from quakeslide.data.tiling import TILE_FIELDS, tile_scenes, tile_starts
from quakeslide.errors import InputError
from quakeslide.options import TileOptions
from quakeslide.synthetic import SceneSpec, make_scene

runner = CliRunner()


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return make_scene(tmp_path_factory.mktemp("scene"), "s", SceneSpec(height=300, width=260))


def read_rows(dataset):
    return list(csv.DictReader((dataset / "tiles.csv").read_text().splitlines()))


def read_mask(dataset, stem):
    return np.asarray(Image.open(dataset / "masks" / f"{stem}.png"))


def test_tile_starts_cover_with_fewest_windows():
    assert tile_starts(300, 128, 128) == [0, 128, 256]
    assert tile_starts(256, 128, 128) == [0, 128]
    assert tile_starts(100, 128, 128) == [0]
    assert tile_starts(300, 128, 64) == [0, 64, 128, 192]


def test_geotiff_and_geopackage(scene, tmp_path):
    result = tile_scenes(
        [scene.image_path],
        scene.polygons_path,
        tmp_path / "ds",
        TileOptions(size=128),
        progress=False,
    )
    dataset = tmp_path / "ds"
    rows = read_rows(dataset)
    assert result.tiles == len(rows) == 9
    assert list(rows[0]) == TILE_FIELDS
    with rasterio.open(scene.mask_path) as truth_src:
        truth = truth_src.read(1)
    for row in rows:
        r, c = int(row["row"]), int(row["col"])
        with rasterio.open(dataset / "images" / f"{row['stem']}.tif") as tile:
            assert tile.crs.to_epsg() == 32648 and tile.shape == (128, 128)
            assert tile.transform.c == pytest.approx(330000.0 + c * 0.61)
            assert tile.transform.f == pytest.approx(3440000.0 - r * 0.61)
        mask = read_mask(dataset, row["stem"])
        inside = truth[r : r + 128, c : c + 128]
        h, w = inside.shape
        np.testing.assert_array_equal(mask[:h, :w], inside)
        assert (mask[h:, :] == 255).all() and (mask[:, w:] == 255).all()
        assert row["padded"] == str(int((h, w) != (128, 128)))
    info = json.loads((dataset / "dataset.json").read_text())
    assert info["counts"]["padded_tiles"] == 5
    assert info["source"]["scenes"][0]["labels"] == "vector"


def test_png_with_labelme(scene, tmp_path):
    with rasterio.open(scene.image_path) as src:
        Image.fromarray(np.moveaxis(src.read(), 0, -1)).save(tmp_path / "s.png")
    labelme = json.loads(scene.labelme_path.read_text())
    labelme["imagePath"] = "s.png"
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "s.json").write_text(json.dumps(labelme))
    tile_scenes(
        [tmp_path / "s.png"],
        tmp_path / "labels",
        tmp_path / "ds",
        TileOptions(size=128),
        progress=False,
    )
    rows = read_rows(tmp_path / "ds")
    assert len(rows) == 9 and all(row["crs"] == "" for row in rows)
    assert (tmp_path / "ds" / "images" / f"{rows[0]['stem']}.png").exists()
    with rasterio.open(scene.mask_path) as truth_src:
        truth = truth_src.read(1)
    mask = read_mask(tmp_path / "ds", "s_0_0")
    # Labelme's rasterisation draws outlines too: at most one pixel wider than the polygons
    assert (mask[truth[:128, :128] == 1] == 1).mean() > 0.99
    assert ((mask == 1) & (truth[:128, :128] == 0)).mean() < 0.03


def test_palette_masks_with_nodata_and_keep_empty(tmp_path):
    height, width = 256, 384
    image = np.full((3, height, width), 90, np.uint8)
    image[:, :, 256:] = 0  # the right third is nodata
    write_geotiff(tmp_path / "scene.tif", image, nodata=0)
    labels = np.zeros((height, width), np.uint8)
    labels[10:40, 10:40] = 1  # one landslide, in the first of four valid 128-tiles
    palette = Image.fromarray(labels, mode="P")
    palette.putpalette([128, 128, 128, 255, 0, 0] + [0, 0, 0] * 254)
    palette.save(tmp_path / "scene_mask.png")
    tile_scenes(
        [tmp_path / "scene.tif"],
        tmp_path / "scene_mask.png",
        tmp_path / "ds",
        TileOptions(size=128, keep_empty=1.0),
        progress=False,
    )
    info = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    counts = info["counts"]
    assert counts["nodata_tiles_skipped"] == 2
    assert (counts["tiles"], counts["landslide_tiles"], counts["empty_tiles_dropped"]) == (2, 1, 2)
    assert len(list((tmp_path / "ds" / "images").iterdir())) == 2
    np.testing.assert_array_equal(read_mask(tmp_path / "ds", "scene_0_0"), labels[:128, :128])


def test_vector_without_crs_needs_assume_crs(scene, tmp_path):
    meta, _, geometries, fields = pyogrio.raw.read(scene.polygons_path)
    with pytest.warns(UserWarning, match="crs"):
        pyogrio.raw.write(
            tmp_path / "nocrs.gpkg",
            geometries,
            fields,
            meta["fields"],
            geometry_type="MultiPolygon",
        )
    with pytest.raises(InputError, match="no CRS.*pass assume_crs"):
        tile_scenes([scene.image_path], tmp_path / "nocrs.gpkg", tmp_path / "ds", progress=False)
    assert list(tmp_path.iterdir()) == [tmp_path / "nocrs.gpkg"]
    tile_scenes(
        [scene.image_path],
        tmp_path / "nocrs.gpkg",
        tmp_path / "ds",
        TileOptions(size=128, assume_crs="EPSG:32648"),
        progress=False,
    )
    assert len(read_rows(tmp_path / "ds")) == 9


def test_vector_in_another_crs_is_reprojected(scene, tmp_path):
    from rasterio.warp import transform_geom

    meta, _, geometries, fields = pyogrio.raw.read(scene.polygons_path)
    lonlat = [
        shapely.to_wkb(
            shapely.geometry.shape(
                transform_geom("EPSG:32648", "EPSG:4326", shapely.from_wkb(g).__geo_interface__)
            )
        )
        for g in geometries
    ]
    pyogrio.raw.write(
        tmp_path / "ll.gpkg",
        np.array(lonlat, dtype=object),
        fields,
        meta["fields"],
        geometry_type="MultiPolygon",
        crs="EPSG:4326",
    )
    tile_scenes(
        [scene.image_path],
        tmp_path / "ll.gpkg",
        tmp_path / "ds",
        TileOptions(size=128),
        progress=False,
    )
    with rasterio.open(scene.mask_path) as truth_src:
        truth = truth_src.read(1)[:128, :128]
    mask = read_mask(tmp_path / "ds", "s_0_0")
    assert (mask == truth).mean() > 0.995


def _cli_error(args):
    """The command fails with exit code 2 and one error line (progress lines may precede)."""
    result = runner.invoke(app, ["tile", *map(str, args)])
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2, result.output
    assert len(errors) == 1 and result.output.strip().endswith(errors[0]), result.output
    assert "Traceback" not in result.output
    return errors[0]


def test_bad_inputs_give_one_line_and_no_dataset(scene, tmp_path):
    out = tmp_path / "ds"
    labels = scene.polygons_path
    # missing scene, missing labels
    assert "not found" in _cli_error([tmp_path / "nope.tif", "--labels", labels, "--out", out])
    assert "not found" in _cli_error(
        [scene.image_path, "--labels", tmp_path / "x.gpkg", "--out", out]
    )
    # unreadable and truncated rasters
    (tmp_path / "junk.tif").write_bytes(b"not a tiff at all")
    assert "junk.tif" in _cli_error([tmp_path / "junk.tif", "--labels", labels, "--out", out])
    data = scene.image_path.read_bytes()
    (tmp_path / "cut.tif").write_bytes(data[: len(data) // 2])
    assert "cut.tif" in _cli_error([tmp_path / "cut.tif", "--labels", labels, "--out", out])
    # Labelme JSON whose image size differs from the scene
    labelme = json.loads(scene.labelme_path.read_text())
    labelme["imageHeight"] = 999
    (tmp_path / "s.json").write_text(json.dumps(labelme))
    assert "999" in _cli_error([scene.image_path, "--labels", tmp_path / "s.json", "--out", out])
    # no landslide inside the scene
    far = shapely.box(0, 0, 10, 10)
    pyogrio.raw.write(
        tmp_path / "far.gpkg",
        np.array([shapely.to_wkb(far)], dtype=object),
        [],
        [],
        geometry_type="Polygon",
        crs="EPSG:32648",
    )
    assert "no landslide" in _cli_error(
        [scene.image_path, "--labels", tmp_path / "far.gpkg", "--out", out]
    )
    # mask of the wrong size
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "small.png")
    assert "small.png" in _cli_error(
        [scene.image_path, "--labels", tmp_path / "small.png", "--out", out]
    )
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ds")]


def test_existing_output_is_refused(scene, tmp_path):
    (tmp_path / "ds").mkdir()
    with pytest.raises(InputError, match="already exists"):
        tile_scenes([scene.image_path], scene.polygons_path, tmp_path / "ds", progress=False)


def test_labelme_alone_names_its_images(scene, tmp_path):
    import base64

    with rasterio.open(scene.image_path) as src:
        Image.fromarray(np.moveaxis(src.read(), 0, -1)).save(tmp_path / "s.png")
    labelme = json.loads(scene.labelme_path.read_text())
    labels = tmp_path / "labels"
    labels.mkdir()
    # one file points at its image, one embeds it
    (labels / "s.json").write_text(json.dumps(labelme | {"imagePath": "../s.png"}))
    embedded = labelme | {
        "imagePath": "gone.png",
        "imageData": base64.b64encode((tmp_path / "s.png").read_bytes()).decode(),
    }
    (labels / "e.json").write_text(json.dumps(embedded))
    result = runner.invoke(
        app, ["tile", "--labels", str(labels), "--out", str(tmp_path / "ds"), "--size", "128"]
    )
    assert result.exit_code == 0, result.output
    stems = {row["stem"] for row in read_rows(tmp_path / "ds")}
    assert "s_0_0" in stems and "e_0_0" in stems
    np.testing.assert_array_equal(
        read_mask(tmp_path / "ds", "s_0_0"), read_mask(tmp_path / "ds", "e_0_0")
    )
    assert not (tmp_path / "ds" / ".embedded").exists()
    # a Labelme file whose image is gone and not embedded
    (labels / "e.json").write_text(json.dumps(labelme | {"imagePath": "gone.png"}))
    assert "gone.png" in _cli_error(["--labels", labels, "--out", tmp_path / "ds2"])


@pytest.mark.parametrize("driver,suffix", [("GeoJSON", ".geojson"), ("ESRI Shapefile", ".shp")])
def test_geojson_and_shapefile_labels(scene, tmp_path, driver, suffix):
    meta, _, geometries, fields = pyogrio.raw.read(scene.polygons_path)
    labels = tmp_path / f"labels{suffix}"
    pyogrio.raw.write(
        labels,
        geometries,
        fields,
        meta["fields"],
        driver=driver,
        geometry_type="MultiPolygon",
        crs="EPSG:32648",
    )
    tile_scenes([scene.image_path], labels, tmp_path / "ds", TileOptions(size=128), progress=False)
    with rasterio.open(scene.mask_path) as truth_src:
        truth = truth_src.read(1)[:128, :128]
    np.testing.assert_array_equal(read_mask(tmp_path / "ds", "s_0_0"), truth)


def test_invalid_polygons_are_repaired_with_a_warning(scene, tmp_path, caplog):
    x0, y0 = 330000 + 10, 3440000 - 60  # a bow-tie, self-intersecting, inside tile s_0_0
    bowtie = shapely.Polygon([(x0, y0), (x0 + 40, y0 + 40), (x0 + 40, y0), (x0, y0 + 40)])
    assert not bowtie.is_valid
    pyogrio.raw.write(
        tmp_path / "bad.gpkg",
        np.array([shapely.to_wkb(bowtie)], dtype=object),
        [],
        [],
        geometry_type="Polygon",
        crs="EPSG:32648",
    )
    with caplog.at_level("WARNING"):
        tile_scenes(
            [scene.image_path],
            tmp_path / "bad.gpkg",
            tmp_path / "ds",
            TileOptions(size=128),
            progress=False,
        )
    assert "repaired 1 invalid polygon" in caplog.text
    mask = read_mask(tmp_path / "ds", "s_0_0")
    assert 0.5 * (40 / 0.61) ** 2 / 2 < (mask == 1).sum() < (40 / 0.61) ** 2 / 2 * 1.5


def test_a_folder_of_images_with_yellow_on_black_masks(tmp_path):
    """Bijie's layout: images/ and masks/ of the same stems, landslides yellow on black."""
    rng = np.random.default_rng(0)
    for name in ("images", "masks"):
        (tmp_path / name).mkdir()
    for k, (h, w) in enumerate([(70, 90), (64, 64)]):
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(
            tmp_path / "images" / f"{k}.png"
        )
        mask = np.zeros((h, w, 3), np.uint8)
        mask[10:30, 20:40] = (255, 255, 0)
        Image.fromarray(mask).save(tmp_path / "masks" / f"{k}.png")
    out = tmp_path / "ds"
    result = runner.invoke(
        app, ["tile", str(tmp_path / "images"), "--labels", str(tmp_path / "masks"),
              "--out", str(out), "--size", "32"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with open(out / "tiles.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {Path(r["scene"]).stem for r in rows} == {"0", "1"}
    masks = [np.array(Image.open(p)) for p in sorted((out / "masks").glob("*.png"))]
    assert sum(int((m == 1).sum()) for m in masks) == 2 * 20 * 20  # every yellow pixel


def test_only_reviewed_areas_count_in_a_partly_labelled_scene(scene, tmp_path):
    """Inside the extent: landslide or background; outside: ignore; unreviewed tiles go."""
    with rasterio.open(scene.image_path) as src:
        transform, crs = src.transform, src.crs
    reviewed = shapely.box(*(transform * (20, 300)), *(transform * (200, 20)))  # cols 20-200
    in_degrees = shapely.geometry.shape(
        transform_geom(crs, "EPSG:4326", reviewed.__geo_interface__)
    )
    extent = tmp_path / "extent.gpkg"
    pyogrio.raw.write(extent, shapely.to_wkb(np.array([in_degrees], dtype=object)), [], [],
                      driver="GPKG", geometry_type="Polygon", crs="EPSG:4326")  # fmt: skip
    options = TileOptions(size=128, extent=extent)
    tile_scenes([scene.image_path], scene.polygons_path, tmp_path / "ds", options, progress=False)
    rows = read_rows(tmp_path / "ds")
    assert {(int(r["row"]), int(r["col"])) for r in rows} == {
        (0, 0),
        (0, 128),
        (128, 0),
        (128, 128),
        (256, 0),
        (256, 128),
    }
    with rasterio.open(scene.mask_path) as truth_src:
        truth = truth_src.read(1)
    for row in rows:
        r, c = int(row["row"]), int(row["col"])
        true = truth[r : r + 128, c : c + 128]
        mask = read_mask(tmp_path / "ds", row["stem"])[: true.shape[0], : true.shape[1]]
        rr, cc = np.mgrid[r : r + true.shape[0], c : c + true.shape[1]]
        inside = (cc >= 21) & (cc < 199) & (rr >= 21) & (rr < 299)  # clear of the edges
        outside = (cc < 19) | (cc > 201)
        assert (mask[inside] == true[inside]).all()
        assert (mask[outside] == 255).all()


def test_an_extent_off_the_scene_gets_one_line(scene, tmp_path):
    extent = tmp_path / "elsewhere.gpkg"
    far = shapely.box(0, 0, 10, 10)
    pyogrio.raw.write(extent, shapely.to_wkb(np.array([far], dtype=object)), [], [],
                      driver="GPKG", geometry_type="Polygon", crs="EPSG:32648")  # fmt: skip
    with pytest.raises(InputError, match="no reviewed area"):
        tile_scenes([scene.image_path], scene.polygons_path, tmp_path / "ds",
                    TileOptions(size=128, extent=extent), progress=False)  # fmt: skip
