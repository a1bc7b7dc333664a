import csv
import json

import numpy as np
import pytest
from conftest import BAND_ZERO, save_checkpoint, write_tile_dataset, write_tiles
from PIL import Image
from reports import check_report
from typer.testing import CliRunner

from quakeslide.cli import app
from quakeslide.data.dataset import TileDataset
from quakeslide.evaluation.evaluate import evaluate_model, write_evaluation
from quakeslide.evaluation.objects import match_objects
from quakeslide.evaluation.pixel import Confusion
from quakeslide.evaluation.thresholds import ThresholdSweep
from quakeslide.folders import EvaluationFolder
from quakeslide.records import EvaluationMetrics

runner = CliRunner()

TRUTH_A = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 255, 255]], np.uint8)
PRED_A = np.array([[1, 1, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 1, 1]], bool)


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_metrics_equal_counts_worked_out_by_hand(tmp_path):
    # tile a: tp (0,0) (0,1) (1,1); fp (0,2); fn (1,0); the bottom-right pair is ignore;
    # 14 valid pixels, so tn 9. Tile b: nothing true, nothing predicted: tn 16.
    empty = np.zeros((4, 4), np.uint8)
    root = write_tiles(tmp_path / "ds", {"a": (PRED_A, TRUTH_A), "b": (empty > 0, empty)})
    result, _ = evaluate_model(BAND_ZERO, TileDataset(root, ["a", "b"]), progress=False)
    source = {"checkpoint": "m.ckpt", "model": "linknet", "dataset": str(root)}
    metrics = write_evaluation(result, EvaluationFolder(tmp_path / "eval"), source)
    assert (metrics.tp, metrics.fp, metrics.fn, metrics.tn) == (3, 1, 1, 25)
    assert metrics.precision == pytest.approx(3 / 4)
    assert metrics.recall == pytest.approx(3 / 4)
    assert metrics.f1 == pytest.approx(6 / 8)
    assert metrics.iou == pytest.approx(3 / 5)
    assert metrics.accuracy == pytest.approx(28 / 30)
    per_tile = metrics.per_tile_mean
    # tile b has no F1 (nothing true or predicted): it is left out of the mean, not a 0
    assert per_tile["f1"] == pytest.approx(0.75) and per_tile["f1_tiles"] == 1
    assert per_tile["accuracy"] == pytest.approx((12 / 14 + 1.0) / 2)
    rows = read_rows(tmp_path / "eval" / "per_tile.csv")
    assert [r["stem"] for r in rows] == ["a", "b"]
    assert float(rows[0]["f1"]) == pytest.approx(0.75) and rows[1]["f1"] == ""
    assert (rows[0]["tp"], rows[0]["fp"], rows[0]["fn"], rows[0]["tn"]) == ("3", "1", "1", "9")
    objects = metrics.objects["by_class"]["all"]
    # the true 2x2 block and the predicted 4-pixel region share 3 pixels: IoU 3/5 >= 0.5
    assert (objects["truth"], objects["detected"], objects["false_alarms"]) == (1, 1, 0)
    assert EvaluationMetrics.read(tmp_path / "eval" / "metrics.json") == metrics


def test_object_rule_iou_half_and_size_classes():
    truth = np.zeros((60, 60), np.uint8)
    truth[:10, :10] = 1  # 100 px: "medium" in pixels
    truth[20:60, 20:60] = 1  # 1600 px: "large"
    predicted = np.zeros((60, 60), bool)
    predicted[:10, :4] = True  # IoU 40 / 100 = 0.4: missed, and a false alarm
    predicted[20:60, 20:60] = True  # exact: detected
    predicted[0, 50] = True  # a 1-pixel false alarm, "small"
    counts = match_objects(predicted, truth).summary()
    by_class = counts["by_class"]
    assert counts["area_unit"] == "px"
    assert (by_class["medium"]["truth"], by_class["medium"]["detected"]) == (1, 0)
    assert (by_class["large"]["truth"], by_class["large"]["detected"]) == (1, 1)
    assert by_class["small"]["false_alarms"] == 2  # the 40 px strip and the single pixel
    assert by_class["all"]["detection_rate"] == pytest.approx(0.5)
    assert by_class["all"]["false_alarm_rate"] == pytest.approx(2 / 3)
    in_metres = match_objects(predicted, truth, pixel_area_m2=0.25).summary()
    assert in_metres["area_unit"] == "m2"
    assert in_metres["by_class"]["small"]["truth"] == 2  # 25 m2 and 400 m2 are both < 500 m2


def test_threshold_sweep_matches_direct_counts():
    rng = np.random.default_rng(0)
    probability = rng.random((50, 50)).astype(np.float32)
    truth = (rng.random((50, 50)) < probability).astype(np.uint8)
    truth[:5] = 255
    sweep = ThresholdSweep()
    sweep.add(probability, truth)
    curve = sweep.curve()
    for threshold in (0.1, 0.5, 0.73):
        k = int(np.argmin(np.abs(curve["threshold"] - threshold)))
        direct = Confusion.from_arrays(probability >= threshold, truth)
        assert curve["precision"][k] == pytest.approx(direct.precision)
        assert curve["recall"][k] == pytest.approx(direct.recall)
        assert curve["f1"][k] == pytest.approx(direct.f1)
    best = sweep.best()
    brute = max(
        Confusion.from_arrays(probability >= t, truth).f1 for t in np.arange(1, 1000) / 1000
    )
    assert best["f1"] == pytest.approx(brute)


def test_evaluate_command_with_compare_writes_the_folder(tmp_path):
    write_tile_dataset(tmp_path / "ds", rows=2, cols=3, size=32)
    first = save_checkpoint(tmp_path / "a.ckpt")
    second = save_checkpoint(tmp_path / "b.ckpt")
    out = tmp_path / "eval"
    result = runner.invoke(
        app,
        ["evaluate", str(first), str(tmp_path / "ds"), "--out", str(out),
         "--compare", str(second), "--panels", "2", "--device", "cpu", "--precision", "32-true"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("precision", "recall", "f1", "iou", "accuracy"):
        assert key in metrics and key in metrics["per_tile_mean"]
    assert sum(metrics[k] for k in ("tp", "fp", "fn", "tn")) == 6 * 32 * 32
    assert metrics["tiles"] == 6 and "F1-best threshold" in result.output
    assert "within 2 px of a drawn outline" in result.output  # the default tolerance
    assert metrics["outline_tolerance"]["pixels"] == 2
    assert 0 < metrics["best_threshold"]["threshold"] < 1
    assert json.loads((out / "compare" / "metrics.json").read_text())["tiles"] == 6
    for name in ("pr_curve.png", "panels/compare_best.png", "panels/compare_worst.png"):
        assert (out / name).stat().st_size > 1000
    assert len(read_rows(out / "per_tile.csv")) == 6
    page = check_report(out, tmp_path / "eval.html", "Evaluation: linknet vs linknet (b)", 5)
    assert "false-alarm rate" in page and "F1-best threshold" in page
    assert "Hand-drawn outlines forgiven" in page


@pytest.mark.parametrize("problem", ["bands", "empty", "classes", "mask_values"])
def test_evaluate_refuses_mismatched_input(tmp_path, problem):
    write_tile_dataset(tmp_path / "ds", rows=1, cols=2, size=32)
    checkpoint = save_checkpoint(tmp_path / "m.ckpt", bands=1 if problem == "bands" else 3)
    if problem == "classes":
        checkpoint = save_checkpoint(tmp_path / "m.ckpt", classes=("a", "b", "c"))
    if problem == "empty":
        for path in (tmp_path / "ds").rglob("*.png"):
            path.unlink()
    if problem == "mask_values":
        mask = tmp_path / "ds" / "masks" / "scn_0_32_0_32.png"
        Image.fromarray(np.full((32, 32), 2, np.uint8)).save(mask)
    out = tmp_path / "eval"
    result = runner.invoke(
        app, ["evaluate", str(checkpoint), str(tmp_path / "ds"), "--out", str(out)]
    )
    assert result.exit_code == 2, result.output
    assert result.output.count("error:") == 1
    assert not out.exists()
