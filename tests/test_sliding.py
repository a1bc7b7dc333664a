import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from quakeslide.inference.sliding import blend_weights, predict_rows, window_starts
from quakeslide.io.scene import open_scene_reader


@pytest.mark.parametrize(
    "length,size,stride",
    [(10, 4, 3), (256, 256, 192), (100, 256, 192), (1000, 256, 192), (257, 256, 192)],
)
def test_window_starts_cover_everything(length, size, stride):
    starts = window_starts(length, size, stride)
    covered = np.zeros(length, bool)
    for s in starts:
        covered[s : s + size] = True
    assert covered.all()
    assert starts[-1] + min(size, length) == length
    assert all(b - a <= stride for a, b in zip(starts, starts[1:], strict=False))


def test_blend_weights_smooth_and_positive():
    w = blend_weights(64, 48)
    assert w.shape == (64, 48)
    assert w.min() > 0
    assert w[32, 24] == pytest.approx(1.0, abs=0.01)
    assert w[0, 0] < 0.01


def _scene(tmp_path, height, width, nodata=None):
    rng = np.random.default_rng(0)
    data = rng.integers(1, 256, (3, height, width), dtype=np.uint8)
    if nodata is not None:
        data[:, : height // 3, : width // 2] = nodata  # a corner without data
    path = tmp_path / "scene.tif"
    profile = dict(
        driver="GTiff",
        height=height,
        width=width,
        count=3,
        dtype="uint8",
        crs="EPSG:32648",
        transform=from_origin(330000, 3440000, 0.61, 0.61),
        nodata=nodata,
    )
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path, data


def brightness(batch):
    return batch.astype(np.float32).mean(axis=1) / 255.0


@pytest.mark.parametrize("height,width", [(300, 417), (64, 500), (513, 90)])
@pytest.mark.parametrize("nodata", [None, 0])
def test_pointwise_model_is_reproduced_exactly(tmp_path, height, width, nodata):
    """For a per-pixel model, blending overlapping windows must give back that model."""
    path, data = _scene(tmp_path, height, width, nodata)
    with open_scene_reader(path) as reader:
        bands = list(
            predict_rows(
                reader.read,
                height,
                width,
                brightness,
                tile=128,
                overlap=32,
                batch_size=3,
                progress=False,
            )
        )
    rows = [b.row for b in bands]
    assert rows == sorted(rows) and rows[0] == 0
    stitched = np.vstack([b.probability for b in bands])
    valid = np.vstack([b.valid for b in bands])
    assert stitched.shape == valid.shape == (height, width)
    expected_valid = np.ones((height, width), bool)
    if nodata is not None:
        expected_valid[: height // 3, : width // 2] = False
    np.testing.assert_array_equal(valid, expected_valid)
    np.testing.assert_allclose(stitched[valid], brightness(data[None])[0][valid], atol=1e-5)
