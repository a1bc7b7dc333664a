"""Whole-scene prediction outputs: grid, nodata, plain images, atomic writes, bad input."""

import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.transform import from_origin
from rasters import random_rgb, write_geotiff

from quakeslide.device import plan_compute
from quakeslide.errors import InputError
from quakeslide.inference import predict as predict_module
from quakeslide.inference.predict import predict_scene
from quakeslide.training.module import NormalizedNet

PLAN = plan_compute("cpu", "32-true")


@pytest.fixture(scope="module")
def net():
    return NormalizedNet("linknet", [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]).eval()


def write_scene(path, height=150, width=210, nodata=None):
    data = random_rgb(height, width, seed=1)
    if nodata is not None:
        data[:, :50, :70] = nodata
    return write_geotiff(path, data, nodata)


def test_nodata_stays_nodata(tmp_path, net):
    scene = write_scene(tmp_path / "s.tif", nodata=0)
    out = predict_scene(net, scene, tmp_path / "out", PLAN, tile=64, overlap=16)
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
    out = predict_scene(net, tmp_path / "p.png", tmp_path / "out", PLAN, tile=64)
    with rasterio.open(out.mask) as mask:
        assert mask.shape == (70, 90) and mask.crs is None
    assert out.quicklook.exists() and out.landslides.exists()


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
        predict_scene(net, path, tmp_path / "out", PLAN)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_run_stopped_midway_leaves_no_output_under_final_names(tmp_path, net, monkeypatch):
    scene = write_scene(tmp_path / "s.tif")

    def stop_after_first_band(*args, **kwargs):
        yield from []
        raise KeyboardInterrupt

    monkeypatch.setattr(predict_module, "predict_rows", stop_after_first_band)
    with pytest.raises(KeyboardInterrupt):
        predict_scene(net, scene, tmp_path / "out", PLAN, tile=64)
    assert list((tmp_path / "out").iterdir()) == []
