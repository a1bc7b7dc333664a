import numpy as np
import pytest
from rasters import random_rgb, write_geotiff

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
    data = random_rgb(height, width)
    if nodata is not None:
        data[:, : height // 3, : width // 2] = nodata  # a corner without data
    return write_geotiff(tmp_path / "scene.tif", data, nodata), data


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


def border_mask(length: int, tile: int, overlap: int) -> np.ndarray:
    """Pixels on either side of every window edge inside the scene (along one axis)."""
    starts = window_starts(length, tile, tile - overlap)
    edges = [s for s in starts[1:]] + [s + tile for s in starts[:-1]]
    mask = np.zeros(length, bool)
    for e in edges:
        mask[max(e - 1, 0) : e + 1] = True
    return mask


def seam_errors(overlap: int, tta: str = "none") -> tuple[float, float, float]:
    """Windowed vs single whole-scene forward of a CNN: (max, border mean, interior mean)."""
    import torch

    from quakeslide.device import plan_compute
    from quakeslide.inference.engines import torch_engine
    from quakeslide.inference.tta import with_tta
    from quakeslide.models.checkpoint import NormalizedNet

    torch.manual_seed(0)
    net = NormalizedNet("linknet", [0.5] * 3, [0.25] * 3).eval()
    predict = with_tta(torch_engine(net, plan_compute("cpu", "32-true")), tta).predict
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:320, 0:320]
    smooth = (np.sin(yy / 17.0) + np.cos(xx / 23.0)) * 60 + 128
    image = np.clip(smooth[None] + rng.normal(0, 20, (3, 320, 320)), 0, 255).astype(np.uint8)

    def read(window):
        r, c, h, w = window.row_off, window.col_off, window.height, window.width
        return image[:, r : r + h, c : c + w], np.ones((h, w), bool)

    bands = predict_rows(read, 320, 320, predict, tile=128, overlap=overlap, progress=False)
    windowed = np.vstack([b.probability for b in bands])
    whole = predict(image[None])[0]
    diff = np.abs(windowed - whole)
    border = border_mask(320, 128, overlap)
    on_border = border[:, None] | border[None, :]
    return float(diff.max()), float(diff[on_border].mean()), float(diff[~on_border].mean())


@pytest.mark.parametrize("tta", ["none", "d4"])
def test_blended_windows_show_no_seams(tta):
    """With overlap, errors on window edges are no larger than inside; without, they are."""
    _, border, interior = seam_errors(overlap=32, tta=tta)
    _, border_hard, interior_hard = seam_errors(overlap=0, tta=tta)
    assert border <= 2 * interior + 1e-4
    # the check can see seams: hard window edges stand out, and blending removes that
    assert border_hard > 1.5 * interior_hard
    assert border_hard > 1.5 * border
