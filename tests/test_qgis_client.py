"""predict's outputs in real QGIS (Debian's python3-qgis, headless): every file of a scene
added at once as a drag of the folder does, each style applied by itself, and a render in
another CRS where the outlines show on top of everything. Skipped where PyQGIS is absent."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rasters import write_geotiff

from quakeslide.inference.engines import Engine
from quakeslide.inference.predict import predict_scene
from quakeslide.io.styles import OUTLINE_RGBA
from quakeslide.records import PredictionSummary

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, where python3-qgis installs PyQGIS
SCRIPT = Path(__file__).parent / "clients" / "qgis_render.py"


def has_pyqgis() -> bool:
    if not Path(SYSTEM_PYTHON).exists():
        return False
    check = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True)
    return check.returncode == 0


pytestmark = pytest.mark.skipif(not has_pyqgis(), reason="PyQGIS (python3-qgis) not installed")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """A scene of bright landslide-like blobs on dark ground, mapped by brightness, then
    opened in QGIS: (QGIS's report, the renders as RGBA arrays, the summary)."""
    folder = tmp_path_factory.mktemp("qgis")
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:500, :600]
    data = (rng.normal(60, 12, (3, 500, 600))).clip(0, 255).astype(np.uint8)
    data[1] += 20  # greenish ground
    for _ in range(14):
        cy, cx = rng.integers(30, 470), rng.integers(30, 570)
        ry, rx = rng.integers(8, 40), rng.integers(8, 40)
        data[:, ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1] = rng.integers(170, 230)
    scene = write_geotiff(folder / "s.tif", data)
    brightness = Engine(lambda batch: batch.astype(np.float32).mean(axis=1) / 255.0, 3)
    outputs = predict_scene(brightness, scene, folder / "out", tile=128)
    renders = folder / "renders"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    run = subprocess.run(
        [SYSTEM_PYTHON, str(SCRIPT), str(folder / "out"), "s", str(renders)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    images = {p.stem: np.asarray(Image.open(p).convert("RGBA")).astype(int)
              for p in renders.glob("*.png")}  # fmt: skip
    return report, images, PredictionSummary.read(outputs.summary)


def test_every_layer_loads_with_its_own_style_in_the_order_of_a_drag(rendered):
    report, _, summary = rendered
    assert report["order"] == ["s_landslides", "s_mask", "s_prob", "s_quicklook"]
    layers = report["layers"]
    assert all(layer["valid"] for layer in layers.values())
    outlines = layers["s_landslides"]
    assert outlines["renderer"] == "singleSymbol" and outlines["fill_alpha"] == 0
    assert outlines["outline_rgb"] == list(OUTLINE_RGBA[:3])
    assert outlines["features"] == summary.count > 5
    assert layers["s_prob"]["renderer"] == "singlebandpseudocolor"
    assert layers["s_prob"]["bands"] == 1  # no internal mask shown as a "Band 2"
    assert layers["s_mask"]["renderer"] == "paletted" and layers["s_mask"]["classes"] == [0, 1]
    # without its .qml the mask's colour table still lists its two classes only
    assert report["mask_without_qml"]["classes"] == [0, 1]
    # the quicklook knows its CRS (its PAM sidecar): drawn in Web Mercator in place
    assert layers["s_quicklook"]["crs"] == report["scene_crs"] == "EPSG:32648"


def colour_distance(image: np.ndarray, rgb: tuple[int, ...]) -> np.ndarray:
    return np.abs(image[..., :3] - np.array(rgb[:3])).sum(axis=-1)


def test_a_render_in_web_mercator_shows_the_outlines_over_every_layer(rendered):
    _, images, _ = rendered
    drawn = images["outlines"][..., 3] > 200  # where the outlines alone are drawn
    assert drawn.sum() > 500
    shown = colour_distance(images["all"], OUTLINE_RGBA)[drawn] < 60
    print(f"outline pixels visible with every layer on: {shown.mean():.3f}")
    assert shown.mean() >= 0.95
    # the quicklook lands on the scene's place, under the outlines (without a CRS it would
    # be drawn about 11,000 km away, off the map)
    assert (images["quicklook"][..., 3] > 0)[drawn].mean() >= 0.99


def test_the_probability_shows_through_the_mask(rendered):
    _, images, _ = rendered
    outline = images["outlines"][..., 3] > 0
    tinted = (colour_distance(images["without_probability"], (0, 0, 0)) > 0) & ~outline
    tinted &= np.abs(images["without_probability"] - images["quicklook"])[..., :3].sum(-1) > 30
    assert tinted.sum() > 500  # the mask's pixels
    changed = np.abs(images["all"] - images["without_probability"])[..., :3].sum(-1) > 30
    print(f"mask pixels where the probability changes the colour: {changed[tinted].mean():.3f}")
    assert changed[tinted].mean() >= 0.9


def test_suggested_squares_open_in_qgis_labelled_with_their_rank(tmp_path):
    from quakeslide.inference.suggest import suggest_with
    from quakeslide.io.styles import SUGGESTION_RGBA
    from quakeslide.options import SuggestOptions

    scene = write_geotiff(tmp_path / "s.tif", (np.random.default_rng(0).integers(
        0, 255, (3, 384, 384))).astype(np.uint8))  # fmt: skip
    unsure = Engine(lambda batch: batch.astype(np.float32).mean(axis=1) / 255.0, 3)
    suggest_with(unsure, 0.5, [scene], tmp_path / "s", SuggestOptions(n=4, size=128))
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    client = Path(__file__).parent / "clients" / "qgis_labels.py"
    run = subprocess.run(
        [SYSTEM_PYTHON, str(client), str(tmp_path / "s" / "suggestions.gpkg"), "suggestions",
         str(tmp_path / "render.png")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["valid"] and report["features"] == 4
    assert report["outline"] == "#{:02x}{:02x}{:02x}".format(*SUGGESTION_RGBA[:3])
    assert report["labels"] and report["label_field"] == "rank"
    picture = np.asarray(Image.open(tmp_path / "render.png").convert("RGB")).astype(int)
    orange = (np.abs(picture - np.array(SUGGESTION_RGBA[:3])).sum(axis=-1) < 60).mean()
    assert orange > 0.005, "the squares are drawn in their orange"
