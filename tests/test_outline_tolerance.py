"""Scores with the pixels near a drawn outline left out (`evaluate --tolerance`)."""

import json

import numpy as np
import pytest
from conftest import BAND_ZERO, save_checkpoint, write_tiles
from typer.testing import CliRunner

from quakeslide.cli import app
from quakeslide.data.dataset import TileDataset
from quakeslide.evaluation.evaluate import evaluate_model
from quakeslide.evaluation.pixel import Confusion
from quakeslide.evaluation.tolerance import CURVE_PIXELS, OutlineCounts, outline_distance

runner = CliRunner()


def outline_band(truth: np.ndarray, pixels: int) -> np.ndarray:
    return outline_distance(truth) <= pixels


def square(shift: int = 0) -> np.ndarray:
    """A 10 x 10 landslide at rows 10-19, columns 10-19 (moved right by `shift`)."""
    mask = np.zeros((32, 32), np.uint8)
    mask[10:20, 10 + shift : 20 + shift] = 1
    return mask


def test_band_is_one_pixel_either_side_of_the_outline():
    band = outline_band(square(), 1)
    # inside: the square's own outer ring (36 px); outside: its 4-neighbours (40 px, the
    # corners' diagonal neighbours are sqrt(2) away)
    assert band.sum() == 36 + 40
    assert band[10, 10] and band[9, 15] and band[15, 20] and not band[9, 9] and not band[15, 15]


def test_tile_edge_is_no_outline():
    half = np.zeros((8, 8), np.uint8)
    half[:, :4] = 1  # a landslide cut by three tile edges: only column 3 | 4 is an outline
    band = outline_band(half, 1)
    assert band.sum() == 16 and band[:, 3].all() and band[:, 4].all()
    assert not outline_band(np.ones((8, 8), np.uint8), 2).any()
    assert not outline_band(np.zeros((8, 8), np.uint8), 2).any()


def test_a_one_pixel_shift_is_forgiven_at_one_pixel(tmp_path):
    # exact: 90 tp, 10 fp (column 20), 10 fn (column 10): F1 180 / 200; both error columns lie
    # within 1 px of the drawn outline, so with tolerance 1 nothing is wrong
    root = write_tiles(tmp_path / "ds", {"a": (square(shift=1) > 0, square())})
    tiles = TileDataset(root, ["a"])
    result, _ = evaluate_model(BAND_ZERO, tiles, progress=False, tolerance=1)
    metrics = result.metrics()
    assert metrics["f1"] == pytest.approx(0.9)
    forgiving = metrics["outline_tolerance"]
    assert forgiving["f1"] == pytest.approx(1.0)
    assert (forgiving["tp"], forgiving["fp"], forgiving["fn"]) == (64, 0, 0)
    assert forgiving["left_out"] == pytest.approx(76 / 1024)
    curve = metrics["outline_curve"]
    assert [row["pixels"] for row in curve] == list(range(CURVE_PIXELS + 1))
    assert curve[0]["f1"] == pytest.approx(0.9) and curve[0]["left_out"] == 0
    assert curve[1] == forgiving
    # 2 px: also the square's second rings (28 inside; 44 outside, with the corners' diagonals)
    assert curve[2]["left_out"] == pytest.approx((76 + 28 + 44) / 1024)
    exact, _ = evaluate_model(BAND_ZERO, tiles, progress=False)
    assert exact.metrics()["outline_tolerance"] is None and exact.metrics()["outline_curve"] is None


def test_counts_by_distance_match_a_band_left_out_as_ignore():
    rng = np.random.default_rng(0)
    truth = np.zeros((40, 40), np.uint8)
    truth[5:30, 8:33] = 1
    truth[18:22, 0:4] = 1
    truth[0:3, 0:40] = 255  # ignore stays out at every distance
    predicted = rng.random((40, 40)) < 0.4
    counts = OutlineCounts()
    counts.add(predicted, truth)
    for pixels in range(CURVE_PIXELS + 1):
        band_as_ignore = np.where(outline_band(truth, pixels), np.uint8(255), truth)
        assert counts.beyond(pixels) == Confusion.from_arrays(predicted, band_as_ignore)
    with pytest.raises(ValueError):
        counts.beyond(CURVE_PIXELS + 1)


def test_evaluate_command_tolerance_zero_gives_exact_scores_only(tmp_path):
    root = write_tiles(tmp_path / "ds", {"a": (square(shift=1) > 0, square())})
    out = tmp_path / "eval"
    result = runner.invoke(
        app, ["evaluate", str(save_checkpoint(tmp_path / "m.ckpt")), str(root), "--out", str(out),
              "--panels", "0", "--tolerance", "0", "--device", "cpu"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "drawn outline" not in result.output
    assert json.loads((out / "metrics.json").read_text())["outline_tolerance"] is None
