"""predict's outputs as a GIS opens them: COG layout, scales, colours, QGIS styles."""

import sqlite3
import struct
import xml.etree.ElementTree as ET

import numpy as np
import pyogrio
import pytest
import rasterio
from rasters import random_rgb, write_geotiff

from quakeslide.device import plan_compute
from quakeslide.inference.engines import torch_engine
from quakeslide.inference.predict import predict_scene
from quakeslide.io.styles import MASK_COLOURS, OUTLINE_RGBA
from quakeslide.models.checkpoint import NormalizedNet

TILE_OFFSETS, STRIP_OFFSETS, SUBFILE_TYPE = 324, 273, 254
INTEGER_TYPES = {3: "H", 4: "I", 16: "Q"}  # SHORT, LONG, LONG8


def tiff_images(path) -> list[tuple[int, list[int]]]:
    """(NewSubfileType, data offsets) of each image of a little-endian classic TIFF."""
    data = path.read_bytes()
    assert data[:4] == b"II*\x00", "expected a little-endian classic TIFF"
    images, ifd = [], struct.unpack_from("<I", data, 4)[0]
    while ifd:
        (count,) = struct.unpack_from("<H", data, ifd)
        tags = {}
        for k in range(count):
            tag, kind, n, value = struct.unpack_from("<HHII", data, ifd + 2 + 12 * k)
            if tag not in (TILE_OFFSETS, STRIP_OFFSETS, SUBFILE_TYPE):
                continue
            fmt = INTEGER_TYPES[kind]
            where = ifd + 2 + 12 * k + 8 if n * struct.calcsize(fmt) <= 4 else value
            tags[tag] = list(struct.unpack_from(f"<{n}{fmt}", data, where))
        offsets = tags.get(TILE_OFFSETS) or tags[STRIP_OFFSETS]
        images.append((tags.get(SUBFILE_TYPE, [0])[0], offsets))
        (ifd,) = struct.unpack_from("<I", data, ifd + 2 + 12 * count)
    return images


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    import torch

    torch.manual_seed(0)
    net = NormalizedNet("linknet", [0.5] * 3, [0.25] * 3).eval()
    engine = torch_engine(net, plan_compute("cpu", "32-true"))
    folder = tmp_path_factory.mktemp("gis")
    data = random_rgb(600, 700, seed=2)
    data[:, :40, :60] = 0
    scene = write_geotiff(folder / "s.tif", data, nodata=0)
    return predict_scene(engine, scene, folder / "out", threshold=0.5, tile=128)


@pytest.mark.parametrize("name", ["probability", "mask"])
def test_rasters_are_cloud_optimized(outputs, name):
    path = getattr(outputs, name)
    with rasterio.open(path) as src:
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert src.tags(ns="IMAGE_STRUCTURE")["COMPRESSION"] == "DEFLATE"
        assert src.block_shapes == [(256, 256)] and src.overviews(1)[:2] == [2, 4]
    images = tiff_images(path)
    full = [offsets for kind, offsets in images if kind == 0]
    overviews = [offsets for kind, offsets in images if kind == 1]
    assert len(full) == 1 and len(overviews) >= 2
    # GDAL's COG layout: every overview's data comes before the full-resolution data
    assert max(max(o) for o in overviews) < min(full[0])
    assert b"LAYOUT=IFDS_BEFORE_DATA" in path.read_bytes()[:1000]
    assert not list(path.parent.glob(".*"))  # no scratch file left behind


def test_rasters_read_right(outputs):
    with rasterio.open(outputs.probability) as prob:
        assert prob.descriptions == ("landslide probability",)
        assert prob.scales == pytest.approx((1 / 254,)) and prob.offsets == (0.0,)
        # outside the scene: a nodata value, not an internal mask (QGIS shows one as a band)
        assert prob.count == 1 and prob.nodata == 255
        assert rasterio.enums.MaskFlags.per_dataset not in prob.mask_flag_enums[0]
        values = prob.read(1, masked=True)
        assert values.mask[:40, :60].all() and not values.mask[100:, 100:].any()
        assert values.max() * prob.scales[0] <= 1.0
    with rasterio.open(outputs.mask) as mask:
        assert mask.nodata == 255 and "landslide" in mask.descriptions[0]
        # the colour table (from the PAM sidecar) holds the two classes only, with alpha
        assert mask.colormap(1) == MASK_COLOURS
        assert set(np.unique(mask.read(1))) <= {0, 1, 255}
    names = ET.fromstring(outputs.mask_categories.read_text()).findall(".//Category")
    assert [n.text for n in names] == ["background", "landslide"]
    with rasterio.open(outputs.quicklook) as picture, rasterio.open(outputs.mask) as mask:
        assert picture.crs == mask.crs  # the quicklook's CRS sidecar


def test_qgis_styles_beside_the_rasters(outputs):
    assert outputs.probability_style.name == "s_prob.qml"  # the raster's stem: QGIS loads it
    prob = ET.fromstring(outputs.probability_style.read_text())
    renderer = prob.find(".//rasterrenderer")
    assert renderer.get("type") == "singlebandpseudocolor"
    items = prob.findall(".//colorrampshader/item")
    assert float(items[0].get("value")) == pytest.approx(0.5)  # starts at the threshold
    assert prob.find(".//colorrampshader").get("clip") == "1"  # transparent below it
    mask = ET.fromstring(outputs.mask_style.read_text())
    entries = {e.get("label"): e for e in mask.findall(".//paletteEntry")}
    assert entries["background"].get("alpha") == "0" and entries["landslide"].get("value") == "1"


def test_geopackage_carries_a_default_outline_style(outputs):
    assert "landslides" in [name for name, _ in pyogrio.list_layers(outputs.landslides)]
    with sqlite3.connect(outputs.landslides) as db:
        rows = db.execute(
            "SELECT f_table_name, f_geometry_column, useAsDefault, styleQML FROM layer_styles"
        ).fetchall()
    db.close()
    assert len(rows) == 1
    table, column, default, qml = rows[0]
    assert (table, column, default) == ("landslides", "geom", 1)
    props = {p.get("k"): p.get("v") for p in ET.fromstring(qml).findall(".//prop")}
    assert props["style"] == "no"
    assert props["outline_color"] == ",".join(map(str, OUTLINE_RGBA))


def test_geopackage_is_version_1_2_which_qgis_ltr_opens_without_warning(outputs):
    with sqlite3.connect(outputs.landslides) as db:
        (version,) = db.execute("PRAGMA user_version").fetchone()
    db.close()
    assert version == 10200


def test_quicklook_world_file_places_it(outputs):
    from PIL import Image

    a, d, b, e, x, y = map(float, outputs.quicklook_world.read_text().split())
    with rasterio.open(outputs.probability) as prob, Image.open(outputs.quicklook) as picture:
        transform, width, height = prob.transform, prob.width, prob.height
        assert (b, d) == (0.0, 0.0)
        # the picture spans the scene: its pixel size times its size is the scene's extent
        assert a * picture.width == pytest.approx(transform.a * width, rel=1e-6)
        assert e * picture.height == pytest.approx(transform.e * height, rel=1e-6)
        assert x - a / 2 == pytest.approx(transform.c) and y - e / 2 == pytest.approx(transform.f)


@pytest.mark.parametrize("side", [1, 2, 8])
def test_a_scene_of_a_few_pixels_is_mapped(tmp_path, side):
    from quakeslide.inference.engines import Engine

    scene = write_geotiff(tmp_path / "tiny.tif", np.full((3, side, side), 200, np.uint8))
    bright = Engine(lambda batch: (batch.mean(axis=1) > 100).astype(np.float32), bands=3)
    out = predict_scene(bright, scene, tmp_path / "out", tile=32)
    with rasterio.open(out.mask) as mask:
        assert mask.shape == (side, side) and (mask.read(1) == 1).all()
        assert mask.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
