"""Whole-scene prediction outputs: grid, nodata, plain images, atomic writes, bad input."""

import json
from dataclasses import fields

import numpy as np
import pyogrio.raw
import pytest
import rasterio
import rasterio.io
from PIL import Image
from rasterio.transform import from_origin
from rasters import random_rgb, write_geotiff
from typer.testing import CliRunner

from quakeslide.cli import app
from quakeslide.device import plan_compute
from quakeslide.errors import InputError
from quakeslide.folders import PredictionOutputs
from quakeslide.inference import predict as predict_module
from quakeslide.inference.engines import Engine, torch_engine
from quakeslide.inference.predict import predict_scene
from quakeslide.io.vectors import polygonize
from quakeslide.models.checkpoint import NormalizedNet, checkpoint_metadata, save_net

PLAN = plan_compute("cpu", "32-true")
runner = CliRunner()


@pytest.fixture(scope="module")
def model():
    return NormalizedNet("linknet", [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]).eval()


@pytest.fixture(scope="module")
def net(model):
    return torch_engine(model, PLAN)


def write_scene(path, height=150, width=210, nodata=None):
    data = random_rgb(height, width, seed=1)
    if nodata is not None:
        data[:, :50, :70] = nodata
    return write_geotiff(path, data, nodata)


def test_nodata_stays_nodata(tmp_path, net):
    scene = write_scene(tmp_path / "s.tif", nodata=0)
    out = predict_scene(net, scene, tmp_path / "out", tile=64, overlap=16)
    with rasterio.open(out.mask) as mask, rasterio.open(scene) as src:
        assert (mask.crs, mask.transform, mask.shape) == (src.crs, src.transform, src.shape)
        values = mask.read(1)
        assert mask.nodata == 255
        assert (values[:50, :70] == 255).all()
        assert set(np.unique(values[50:, :])) <= {0, 1}
    with rasterio.open(out.probability) as prob:
        valid = prob.read_masks(1)
        assert (valid[:50, :70] == 0).all() and (valid[50:, :] == 255).all()


def test_plain_png_keeps_its_pixel_grid(tmp_path, net):
    rng = np.random.default_rng(2)
    Image.fromarray(rng.integers(0, 256, (70, 90, 3), dtype=np.uint8)).save(tmp_path / "p.png")
    out = predict_scene(net, tmp_path / "p.png", tmp_path / "out", tile=64)
    with rasterio.open(out.mask) as mask:
        assert mask.shape == (70, 90) and mask.crs is None
    assert out.quicklook.exists() and out.landslides.exists()


def test_plain_png_areas_use_pixel_size(tmp_path, net):
    rng = np.random.default_rng(2)
    Image.fromarray(rng.integers(0, 256, (70, 90, 3), dtype=np.uint8)).save(tmp_path / "p.png")
    plain = predict_scene(net, tmp_path / "p.png", tmp_path / "a", tile=64, threshold=0.0)
    sized = predict_scene(
        net, tmp_path / "p.png", tmp_path / "b", tile=64, threshold=0.0, pixel_size=0.5
    )
    plain_summary = json.loads(plain.summary.read_text())
    sized_summary = json.loads(sized.summary.read_text())
    assert plain_summary["area_unit"] == "px" and plain_summary["total_area_m2"] is None
    assert plain_summary["total_area_px"] == 70 * 90
    assert sized_summary["area_unit"] == "m2"
    assert sized_summary["total_area_m2"] == pytest.approx(70 * 90 * 0.25)


def test_streamed_polygons_equal_polygons_of_the_written_rasters(tmp_path):
    """Polygons built band by band while predicting equal those of the whole output read once."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[:230, :170]
    data = np.full((3, 230, 170), 30, np.uint8)
    for _ in range(40):
        cy, cx, r = rng.integers(0, 230), rng.integers(0, 170), rng.integers(3, 25)
        data[:, (yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.integers(150, 256)
    scene = write_geotiff(tmp_path / "blobs.tif", data)
    brightness = Engine(lambda batch: batch.astype(np.float32).mean(axis=1) / 255.0, 3)
    out = predict_scene(brightness, scene, tmp_path / "out", tile=64, overlap=16)
    with rasterio.open(out.mask) as mask, rasterio.open(out.probability) as prob:
        whole = polygonize(
            mask.read(1) == 1, prob.read(1) * prob.scales[0], mask.transform, mask.crs, 0.0,
            None, separation="shape",  # predict's default
        )  # fmt: skip
    _, _, geometries, fields = pyogrio.raw.read(out.landslides, layer="landslides")
    streamed = dict(zip(["id", "area_px", "area_m2", "perimeter_m"], fields[:4], strict=True))
    assert len(whole) == len(geometries) > 10
    assert sorted(ls.area_m2 for ls in whole) == pytest.approx(sorted(streamed["area_m2"]))
    assert sorted(ls.perimeter_m for ls in whole) == pytest.approx(sorted(streamed["perimeter_m"]))
    assert sum(ls.area_px for ls in whole) == np.count_nonzero(data.mean(axis=0) >= 127.5)


def test_wrong_band_count_is_refused(tmp_path, net):
    path = tmp_path / "gray.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=20,
        width=20,
        count=1,
        dtype="uint8",
        crs="EPSG:32648",
        transform=from_origin(0, 20, 1, 1),
    ) as dst:
        dst.write(np.zeros((1, 20, 20), np.uint8))
    with pytest.raises(InputError, match="model expects 3"):
        predict_scene(net, path, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_run_stopped_midway_leaves_no_output_under_final_names(tmp_path, net, monkeypatch):
    scene = write_scene(tmp_path / "s.tif")

    def stop_after_first_band(*args, **kwargs):
        yield from []
        raise KeyboardInterrupt

    monkeypatch.setattr(predict_module, "predict_rows", stop_after_first_band)
    with pytest.raises(KeyboardInterrupt):
        predict_scene(net, scene, tmp_path / "out", tile=64)
    assert list((tmp_path / "out").iterdir()) == []


def test_a_failure_at_the_end_leaves_no_output_either(tmp_path, net, monkeypatch):
    """Overviews fail after the vector outputs are written: those must not appear either."""

    def disk_full(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(rasterio.io.DatasetWriter, "build_overviews", disk_full)
    with pytest.raises(OSError, match="disk full"):
        predict_scene(net, write_scene(tmp_path / "s.tif"), tmp_path / "out", tile=64)
    assert list((tmp_path / "out").iterdir()) == []


def save_checkpoint(net, path):
    return save_net(net, checkpoint_metadata("linknet", [0.5] * 3, [0.25] * 3, 64), path)


def test_folder_of_scenes_and_finished_outputs_skipped(tmp_path, model):
    checkpoint = save_checkpoint(model, tmp_path / "model.ckpt")
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    write_scene(scenes / "a.tif")
    write_scene(scenes / "b.tif", height=90, width=100)
    args = [
        "predict",
        str(checkpoint),
        str(scenes),
        "--out",
        str(tmp_path / "out"),
        "--tile",
        "64",
        "--device",
        "cpu",
        "--precision",
        "32-true",
    ]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert len(list((tmp_path / "out").iterdir())) == 2 * len(fields(PredictionOutputs))
    stamp = (tmp_path / "out" / "a_mask.tif").stat().st_mtime_ns
    second = runner.invoke(app, args)
    assert second.exit_code == 0 and second.output.count("skipped") == 2
    assert (tmp_path / "out" / "a_mask.tif").stat().st_mtime_ns == stamp
    write_scene(scenes / "a.png")  # same stem as a.tif: outputs would collide
    third = runner.invoke(app, args)
    assert third.exit_code == 2 and "same name" in third.output


def test_predict_never_overwrites_a_users_files(tmp_path, model):
    checkpoint = save_checkpoint(model, tmp_path / "model.ckpt")
    folder = tmp_path / "s"
    folder.mkdir()
    scene = write_scene(folder / "scene.tif")
    truth = write_geotiff(folder / "scene_mask.tif", np.zeros((1, 150, 210), np.uint8))
    kept = truth.read_bytes()
    cpu = ["--tile", "64", "--device", "cpu", "--precision", "32-true"]
    refused = runner.invoke(
        app, ["predict", str(checkpoint), str(scene), "--out", str(folder), *cpu]
    )
    errors = [line for line in refused.output.splitlines() if line.startswith("error:")]
    assert refused.exit_code == 2 and len(errors) == 1 and "scene_mask.tif" in errors[0]
    assert truth.read_bytes() == kept and not (folder / "scene_prob.tif").exists()
    truth.unlink()
    args = ["predict", str(checkpoint), str(folder), "--out", str(folder), *cpu]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, args)  # its own outputs in the folder are not scenes
    assert second.exit_code == 0 and second.output.count("skipped") == 1, second.output
    assert not list(folder.glob("*_prob_prob*")) and not list(folder.glob("*_mask_prob*"))
    other = tmp_path / "t"
    other.mkdir()
    write_scene(other / "b.tif")
    write_scene(other / "b_mask.tif")  # a scene of the folder is another's output name
    clash = runner.invoke(app, ["predict", str(checkpoint), str(other), "--out", str(other), *cpu])
    assert clash.exit_code == 2 and "b_mask.tif: is an input" in clash.output
    assert not (other / "b_prob.tif").exists()
