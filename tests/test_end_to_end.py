"""One tiny run of the whole demo: every output exists, is well-formed and georeferenced."""

import json
from pathlib import Path

import numpy as np
import pyogrio.raw
import pytest
import rasterio
import torch
from PIL import Image
from rasterio.crs import CRS
from reports import check_report
from typer.testing import CliRunner

from quakeslide.cli import app
from quakeslide.demo import DemoSettings, run_demo
from quakeslide.models.checkpoint import CHECKPOINT_KEY, load_net

TINY = DemoSettings(train_size=384, test_size=320, tile=64, epochs=2, batch_size=8, step_size=1)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return out, run_demo(out, TINY, echo=lambda *_: None)


@pytest.mark.slow
def test_prediction_rasters_share_the_scene_grid(demo_run):
    out, result = demo_run
    outputs = result["outputs"]
    with rasterio.open(out / "scenes" / "test_scene.tif") as scene:
        grid = (scene.crs, scene.transform, scene.width, scene.height)
    for key in ("probability", "mask"):
        with rasterio.open(outputs[key]) as raster:
            assert (raster.crs, raster.transform, raster.width, raster.height) == grid
            assert raster.dtypes[0] == "uint8"
            values = raster.read(1)
            assert raster.overviews(1), f"{key} has no overviews"
    assert set(np.unique(values)) <= {0, 1}


@pytest.mark.slow
def test_polygons_summary_quicklook_report(demo_run):
    out, result = demo_run
    outputs = result["outputs"]
    meta, _, geometries, fields = pyogrio.raw.read(outputs["landslides"], layer="landslides")
    assert CRS.from_user_input(meta["crs"]) == CRS.from_epsg(32648)
    names = list(meta["fields"])
    for field in ("id", "area_m2", "perimeter_m", "centroid_x", "centroid_y", "mean_prob"):
        assert field in names
    summary = json.loads(Path(outputs["summary"]).read_text())
    assert summary["count"] == len(geometries)
    if len(geometries):
        areas = fields[names.index("area_m2")]
        assert np.all(areas > 0)
        assert summary["total_area_m2"] == pytest.approx(float(areas.sum()))
        assert np.all(fields[names.index("mean_prob")] >= 0.5 - 1e-6)
    assert sum(summary["area_histogram"].values()) == summary["count"]
    with Image.open(outputs["quicklook"]) as png:
        assert png.format == "PNG" and png.size == (320, 320)
    assert "F1" in (out / "report.md").read_text()
    metrics = result["test_scene_pixel_metrics"]
    assert 0.0 <= metrics["f1"] <= 1.0
    assert metrics["tp"] + metrics["fp"] + metrics["fn"] + metrics["tn"] == 320 * 320


@pytest.mark.slow
def test_run_folder_and_checkpoint(demo_run):
    out, result = demo_run
    run = out / "run"
    assert (run / "config.yaml").exists()
    lines = (run / "metrics.csv").read_text().strip().splitlines()
    assert len(lines) == 1 + TINY.epochs
    assert {"best.ckpt", "last.ckpt"} <= {p.name for p in (run / "checkpoints").iterdir()}
    payload = torch.load(run / "checkpoints" / "best.ckpt", weights_only=True)
    assert payload[CHECKPOINT_KEY]["model"] == "linknet"
    net, meta = load_net(run / "checkpoints" / "best.ckpt")
    assert meta["tile_size"] == TINY.tile
    assert meta["pixel_size_m"] == pytest.approx(0.61)  # the synthetic tiles are georeferenced
    with torch.no_grad():
        assert net(torch.rand(1, 3, 50, 70)).shape == (1, 2, 50, 70)


@pytest.mark.slow
def test_reports_of_the_run_and_the_prediction_folders(demo_run, tmp_path):
    out, _ = demo_run
    page = check_report(out / "run", tmp_path / "run.html", "Training run", figures=1)
    assert "val_f1" in page and "Configuration" in page
    page = check_report(
        out / "prediction", tmp_path / "map.html", "Landslide map", figures=0, markdown_figures=1
    )
    assert "quakeslideMap(" in page and "L.CRS.Simple" in page
    assert "test_scene" in page and "total area (m2)" in page
    for label in ("&lt; 500 m2", "500-5000 m2", "&gt;= 5000 m2"):  # size classes as read
        assert label in page
    markdown = (tmp_path / "map.md").read_text()
    assert "| &gt;= 5000 m2 |" in markdown and "5000, -" not in markdown
    again = CliRunner().invoke(
        app, ["report", str(out / "run"), "--out", str(tmp_path / "map.html")]
    )
    assert again.exit_code == 0, again.output  # its own pages: replaced


def test_report_of_a_folder_without_results_is_refused(tmp_path):
    result = CliRunner().invoke(app, ["report", str(tmp_path), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 2 and "not a result folder" in result.output
    assert not (tmp_path / "r.html").exists()
