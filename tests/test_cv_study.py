"""Cross-validation and the sample-size study, end to end through the command line."""

import csv
import json
from pathlib import Path

import pytest
from conftest import write_tile_dataset
from reports import check_report
from typer.testing import CliRunner

from quakeslide.cli import app

FAST = ["--epochs", "1", "--batch-size", "4", "--augment", "2", "--crop", "24"]
FAST += ["--precision", "32-true", "--accelerator", "cpu"]


@pytest.fixture(scope="module")
def split_tiles(tmp_path_factory) -> Path:
    """A 4 x 5 grid of 32 px tiles with train.txt (14) and val.txt (6)."""
    root = tmp_path_factory.mktemp("tiles")
    stems = write_tile_dataset(root, rows=4, cols=5, size=32)
    (root / "val.txt").write_text("\n".join(stems[:6]))
    (root / "train.txt").write_text("\n".join(stems[6:]))
    return root


@pytest.mark.slow
def test_cv_writes_one_run_per_fold_and_mean_std(split_tiles, tmp_path):
    out = tmp_path / "cv"
    command = ["cv", str(split_tiles), "--out", str(out), "--folds", "3", *FAST]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "cv_summary.json").read_text())
    assert summary["grouping"] == "blocks" and sum(summary["fold_tiles"]) == 20
    assert set(summary["metrics"]) == {"precision", "recall", "f1", "iou"}
    with open(out / "cv.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["fold"]) for r in rows] == [0, 1, 2]
    f1 = [float(r["f1"]) for r in rows]
    assert summary["metrics"]["f1"]["mean"] == pytest.approx(sum(f1) / 3)
    with open(out / "folds.csv", newline="") as f:
        folds = {r["stem"]: int(r["fold"]) for r in csv.DictReader(f)}
    for k in range(3):
        val = json.loads((out / f"fold_{k}" / "summary.json").read_text())["val_tiles"]
        assert val == sum(1 for v in folds.values() if v == k)
    page = check_report(out, tmp_path / "cv_report.html", "Cross-validation", figures=1)
    assert "cv.csv" in page and "metrics.f1.mean" in page


@pytest.mark.slow
def test_study_table_figures_and_skipping_finished_runs(split_tiles, tmp_path):
    out = tmp_path / "study"
    command = ["study", str(split_tiles), "--out", str(out), "--sizes", "4,8", "--val-split", "val"]
    result = CliRunner().invoke(app, command + FAST)
    assert result.exit_code == 0, result.output
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert runs == [f"{m}_n{n}_fold0" for m in ("linknet", "unet") for n in (4, 8)]
    with open(out / "table1.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [(t["model"], t["size"]) for t in table] == [
        ("unet", "4"),
        ("unet", "8"),
        ("linknet", "4"),
        ("linknet", "8"),
    ]
    assert {t["parameters_m"] for t in table} == {"31.04", "11.53"}
    assert "| unet | 4 | 1 |" in (out / "table1.md").read_text()
    figures = {p.name for p in (out / "figures").iterdir()}
    assert figures == {
        "unet_metrics_vs_size.png",
        "linknet_metrics_vs_size.png",
        "linknet_vs_unet.png",
    }
    small = json.loads((out / "runs" / "linknet_n4_fold0" / "summary.json").read_text())
    large = json.loads((out / "runs" / "linknet_n8_fold0" / "summary.json").read_text())
    assert (small["train_tiles"], large["train_tiles"]) == (4, 8)
    page = check_report(out, tmp_path / "study.html", "Sample-size study", figures=3)
    assert "Table 1" in page and "runs.csv" in page
    stamps = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/summary.json")}
    again = CliRunner().invoke(app, command + FAST)
    assert again.exit_code == 0, again.output
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps, "finished runs were redone"


def test_study_refuses_sizes_larger_than_the_pool(split_tiles, tmp_path):
    command = ["study", str(split_tiles), "--out", str(tmp_path / "s"), "--sizes", "100"]
    result = CliRunner().invoke(app, command + ["--val-split", "val", *FAST])
    assert result.exit_code == 2 and "size 100 exceeds the 14 tiles" in result.output


def test_a_run_is_scored_at_its_best_or_its_last_epoch():
    from quakeslide.records import EpochScores, RunSummary
    from quakeslide.training.fit import RunResult, scored_metrics

    best = EpochScores(epoch=3, precision=0.9, recall=0.8, f1=0.85, iou=0.74)
    final = EpochScores(epoch=9, precision=0.5, recall=0.4, f1=0.44, iou=0.29)
    summary = RunSummary.model_construct(best=best, final=final)
    result = RunResult(Path("run"), Path("run/best.ckpt"), summary)
    assert scored_metrics(result) == best
    assert scored_metrics(result, "last") == final
    none = RunSummary.model_construct(best=None, final=None)
    unvalidated = RunResult(Path("run"), Path("run/best.ckpt"), none)
    assert scored_metrics(unvalidated, "last").f1 == 0.0


@pytest.mark.slow
def test_a_study_rescored_at_the_last_epoch_reuses_its_runs(split_tiles, tmp_path):
    out = tmp_path / "study"
    command = ["study", str(split_tiles), "--out", str(out), "--models", "linknet", "--sizes", "4"]
    command += ["--val-split", "val", *FAST, "--epochs", "2"]
    assert CliRunner().invoke(app, command).exit_code == 0
    stamps = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/summary.json")}
    result = CliRunner().invoke(app, [*command, "--score", "last"])
    assert result.exit_code == 0, result.output
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps, "finished runs were redone"
    run = json.loads(next(iter(stamps)).read_text())
    with open(out / "runs.csv", newline="") as f:
        (row,) = csv.DictReader(f)
    assert int(row["scored_epoch"]) == run["final"]["epoch"] == 1
    assert float(row["f1"]) == pytest.approx(run["final"]["f1"])
    assert json.loads((out / "summary.json").read_text())["score"] == "last"
    assert (out / "table1.md").read_text().startswith("Each run at its last epoch")


@pytest.mark.parametrize("command", ["cv", "study"])
def test_an_unknown_score_is_refused_before_any_run(split_tiles, tmp_path, command):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, [command, str(split_tiles), "--out", str(out), "--score", "mean", *FAST]
    )
    assert (
        result.exit_code == 2
        and "--score 'mean': input should be 'best' or 'last'" in result.output
    )
    assert not (out / "runs").exists() and not (out / "fold_0").exists()
