"""The report of a prediction folder as an interactive map page."""

import json
import re
import shutil
import subprocess

import numpy as np
import pyogrio.raw
import pytest
from rasterio.warp import transform as warp_transform
from rasters import write_geotiff
from typer.testing import CliRunner

from quakeslide.cli import app
from quakeslide.folders import PredictionOutputs
from quakeslide.inference.engines import Engine
from quakeslide.inference.predict import predict_scene
from quakeslide.reporting.map_page import scene_map

runner = CliRunner()


def bright_pixels(batch):
    """A model that calls every bright pixel a landslide."""
    return (batch.astype(np.float32).mean(axis=1) > 160).astype(np.float32)


@pytest.fixture(scope="module")
def prediction(tmp_path_factory):
    folder = tmp_path_factory.mktemp("map")
    rng = np.random.default_rng(0)
    data = rng.integers(20, 90, (3, 400, 500), dtype=np.uint8)
    yy, xx = np.mgrid[:400, :500]
    for k in range(7):  # bright blobs of different sizes
        cy, cx, r = 50 + 45 * k, 60 + 60 * k, 6 + 3 * k
        data[:, (yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = 220
    scene = write_geotiff(folder / "scene.tif", data)
    out = folder / "out"
    predict_scene(Engine(bright_pixels, bands=3), scene, out, tile=128)
    page = folder / "map.html"
    result = runner.invoke(app, ["report", str(out), "--out", str(page)])
    assert result.exit_code == 0, result.output
    return PredictionOutputs.for_stem("scene", out), page


def payload(page_text):
    return json.loads(re.search(r"quakeslideMap\((\{.*?\})\);</script>", page_text).group(1))


def test_the_page_is_self_contained(prediction):
    _, page = prediction
    text = page.read_text()
    assert "<script src" not in text and "<link" not in text  # nothing fetched
    assert "Leaflet" in text and "L.CRS.Simple" in text
    data = payload(text)
    assert data["picture"].startswith("data:image/png;base64,")


def test_every_landslide_is_drawn_and_listed_largest_first(prediction):
    outputs, page = prediction
    _, _, _, fields = pyogrio.raw.read(outputs.landslides, layer="landslides")
    ids, areas = fields[0], fields[2]
    assert len(ids) == 7
    text = page.read_text()
    features = payload(text)["landslides"]["features"]
    listed = [int(i) for i in re.findall(r'<tr data-id="(\d+)">', text)]
    assert sorted(listed) == sorted(ids.tolist())
    assert [f["properties"]["id"] for f in features] == listed
    listed_areas = [f["properties"]["area_m2"] for f in features]
    assert listed_areas == sorted(listed_areas, reverse=True)
    assert listed_areas[0] == pytest.approx(areas.max(), rel=1e-3)
    assert "landslide (probability &ge;" in text  # the legend


def test_coordinates_and_lat_lon(prediction):
    outputs, _ = prediction
    view = scene_map(outputs, "scene")
    left, bottom, right, top = view.bounds
    x, y = (left + right) / 2, (bottom + top) / 2
    (lon,), (lat,) = warp_transform("EPSG:32648", "EPSG:4326", [x], [y])
    a, b, c, d, e, f = view.lonlat
    assert a * x + b * y + c == pytest.approx(lon, abs=1e-6)  # about 0.1 m
    assert d * x + e * y + f == pytest.approx(lat, abs=1e-6)
    assert view.unit == "m"


def test_big_inventories_draw_the_largest(prediction):
    outputs, _ = prediction
    view = scene_map(outputs, "scene", max_drawn=3)
    areas = [f["properties"]["area_m2"] for f in view.landslides["features"]]
    assert len(areas) == 3 and view.total == 7
    assert areas == sorted(areas, reverse=True)


def chromium_dom(page, tmp_path) -> str:
    """The page's DOM after headless Chromium ran its scripts; its map drew 7 outlines."""
    done = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert 'data-drawn="7"' in done.stdout, done.stderr[-2000:]  # the script ran to its end
    return done.stdout


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium not installed")
def test_the_map_renders_in_headless_chromium(prediction, tmp_path):
    _, page = prediction
    dom = chromium_dom(page, tmp_path)
    assert re.search(r"<img[^>]*leaflet-image-layer", dom) and "leaflet-control-scale" in dom
    assert dom.count('class="leaflet-interactive"') >= 7  # one SVG path per landslide


@pytest.fixture(scope="module")
def inventory_page(prediction, tmp_path_factory):
    """The prediction's inventory, with a 50 m density grid, as a report page."""
    outputs, _ = prediction
    folder = tmp_path_factory.mktemp("inventory")
    out, page = folder / "inventory", folder / "inventory.html"
    made = runner.invoke(app, ["inventory", str(outputs.landslides.parent), "--out", str(out),
                               "--grid", "50"])  # fmt: skip
    assert made.exit_code == 0, made.output
    result = runner.invoke(app, ["report", str(out), "--out", str(page)])
    assert result.exit_code == 0, result.output
    return page


def test_the_inventory_map_has_its_density_grids_to_switch_on(inventory_page):
    data = payload(inventory_page.read_text())
    assert data["picture"] is None and len(data["landslides"]["features"]) == 7
    names = [overlay["name"] for overlay in data["overlays"]]
    assert names[0].startswith("landslides / km2 (0-") and names[1].startswith("% of ground")
    assert all(o["picture"].startswith("data:image/png;base64,") for o in data["overlays"])
    assert [key for key, _, _ in data["columns"]] == ["area_m2", "volume_m3"]
    volumes = [f["properties"]["volume_m3"] for f in data["landslides"]["features"]]
    assert volumes == sorted(volumes, reverse=True) and volumes[-1] > 0


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium not installed")
def test_the_inventory_map_renders_with_a_layer_switch(inventory_page, tmp_path):
    dom = chromium_dom(inventory_page, tmp_path)
    assert "leaflet-control-layers" in dom and dom.count('type="checkbox"') >= 3
    assert not re.search(r"<img[^>]*leaflet-image-layer", dom), "the grids start switched off"
