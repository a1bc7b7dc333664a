"""`selection-study`: rounds of windows chosen by uncertainty or at random, each a
fine-tune from the parent scored on held-out tiles; resumable, with curves and a figure."""

import csv
import json
import shutil
from typing import get_args

import numpy as np
import pytest
from conftest import FINE, write_tile_dataset
from PIL import Image
from reports import check_report
from typer.testing import CliRunner

from quakeslide.cli import app
from quakeslide.config import TrainConfig
from quakeslide.data.dataset import TileDataset
from quakeslide.data.positions import position_from_name
from quakeslide.device import plan_compute
from quakeslide.errors import InputError
from quakeslide.folders import SelectionStudyFolder
from quakeslide.options import SelectionStudyOptions
from quakeslide.reporting.study_figures import SELECTION_STYLES
from quakeslide.training.selection_study import run_selection_study, target_check
from quakeslide.training.window_scores import score_windows

runner = CliRunner()
PADDED = "scn_0_32_0_32"
OPTIONS = SelectionStudyOptions(strategies="uncertainty,random", sizes="2,4", repeats=2)


@pytest.fixture(scope="module")
def pool_dataset(tmp_path_factory):
    """A 4 x 4 grid of tiles: the top three rows are the pool (one of them mostly
    nodata), the bottom row held out."""
    root = tmp_path_factory.mktemp("selection")
    stems = write_tile_dataset(root, rows=4, cols=4, size=32, seed=3)
    held = [s for s in stems if position_from_name(s).row == 96]
    (root / "pool.txt").write_text("\n".join(s for s in stems if s not in held) + "\n")
    padded = root / "masks" / f"{PADDED}.png"  # three quarters nodata: never a window
    mask = np.array(Image.open(padded))
    mask[8:] = 255
    Image.fromarray(mask).save(padded)
    (root / "held.txt").write_text("\n".join(held) + "\n")
    return root


def config(parent, **changes) -> TrainConfig:
    given = {"init": str(parent), "train_split": "pool", "val_split": "held"}
    return TrainConfig(**(FINE | {"epochs": 1} | given | changes))


@pytest.fixture(scope="module")
def study(pool_dataset, parent, tmp_path_factory):
    out = tmp_path_factory.mktemp("study") / "sel"
    asked = config(parent, model="unet")  # the parent's architecture wins
    summary = run_selection_study(pool_dataset, out, asked, OPTIONS)
    return out, summary


def picks(folder: SelectionStudyFolder, strategy: str, repeat: int, size: int) -> list[list]:
    with open(folder.picks(strategy, repeat, size), newline="") as f:
        return list(csv.reader(f))[1:]


def test_rounds_add_windows_from_the_pool_only(study, pool_dataset):
    out, summary = study
    folder = SelectionStudyFolder(out)
    held = set((pool_dataset / "held.txt").read_text().split())
    assert summary.runs == 2 * 2 * 2 and summary.pool == 11 and summary.held_out == 4
    for strategy in ("uncertainty", "random"):
        for repeat in range(2):
            first = [p[0] for p in picks(folder, strategy, repeat, 2)]
            second = [p[0] for p in picks(folder, strategy, repeat, 4)]
            assert len(first) == 2 and len(second) == 2
            assert not (set(first) | set(second)) & (held | {PADDED})
            assert not set(first) & set(second)  # a window is labelled once
            trained = folder.run(strategy, repeat, 4).root / "config.yaml"
            assert "model: linknet" in trained.read_text()


def test_uncertainty_picks_the_parents_least_sure_windows_spread_out(study, pool_dataset, parent):
    out, _ = study
    stems = [s for s in (pool_dataset / "pool.txt").read_text().split() if s != PADDED]
    tiles = TileDataset(pool_dataset, stems)
    scores = score_windows(parent, tiles, stems, plan_compute("cpu", "32-true"))
    first = picks(SelectionStudyFolder(out), "uncertainty", 0, 2)
    top = max(scores, key=lambda stem: scores[stem].uncertainty)
    assert first[0][0] == top
    assert float(first[0][1]) == pytest.approx(scores[top].uncertainty, abs=1e-5)
    a, b = (position_from_name(p[0]) for p in first)
    assert max(abs(a.row - b.row), abs(a.col - b.col)) > 32  # not neighbours
    assert all(p[-1] == "uncertainty" for p in first)


def test_each_round_counts_the_outlines_a_mapper_keeps(study):
    """Every synthetic tile holds one true blob; kept outlines are among the pre-filled."""
    with open(SelectionStudyFolder(study[0]).runs_csv, newline="") as f:
        rounds = [r for r in csv.DictReader(f) if r["strategy"] != "zero-shot"]
    assert len(rounds) == 8
    for r in rounds:
        assert int(r["truth"]) == 2 == len(r["picked"].split())
        assert 0 <= int(r["kept"]) <= int(r["prefilled"])


def test_random_draws_differ_between_repeats(study):
    folder = SelectionStudyFolder(study[0])
    draws = [{p[0] for s in (2, 4) for p in picks(folder, "random", r, s)} for r in range(2)]
    assert draws[0] != draws[1]


def test_curves_table_figure_and_verdict(study):
    out, summary = study
    folder = SelectionStudyFolder(out)
    with open(folder.curves_csv, newline="") as f:
        curves = list(csv.DictReader(f))
    assert [(c["strategy"], c["size"]) for c in curves] == [
        ("zero-shot", "0"), ("uncertainty", "2"), ("uncertainty", "4"),
        ("random", "2"), ("random", "4"),
    ]  # fmt: skip
    assert all(c["repeats"] == "2" for c in curves[1:])
    goal = float(curves[-1]["f1_mean"])
    assert summary.target["random_windows"] == 4
    assert summary.target["random_f1"] == pytest.approx(goal)
    assert "random with 4 windows" in folder.curves_md.read_text()
    assert (out / summary.figures[0]).stat().st_size > 10_000
    assert json.loads(folder.summary.read_text())["repeats"] == 2


def test_the_figure_draws_every_strategy():
    """Each strategy the study runs has a line style (disagreement once had none, and its
    curve was left out of the figure)."""
    (strategy_type,) = get_args(SelectionStudyOptions.model_fields["strategies"].annotation)
    assert set(SELECTION_STYLES) == set(get_args(strategy_type))


@pytest.mark.parametrize(
    ("uncertainty", "reached", "met"),
    [((0.50, 0.61, 0.62, 0.63), 10, True), ((0.50, 0.55, 0.61, 0.63), 15, False),
     ((0.50, 0.55, 0.57, 0.59), None, False)],
)  # fmt: skip
def test_the_target_is_half_the_windows_random_needs(uncertainty, reached, met):
    sizes = [5, 10, 15, 20]
    curves = [{"strategy": "random", "size": n, "f1_mean": f} for n, f in
              zip(sizes, (0.5, 0.55, 0.58, 0.60), strict=True)]  # fmt: skip
    curves += [{"strategy": "uncertainty", "size": n, "f1_mean": f}
               for n, f in zip(sizes, uncertainty, strict=True)]  # fmt: skip
    curves += [{"strategy": "disagreement", "size": n, "f1_mean": 0.7} for n in sizes]
    verdict = target_check(curves, sizes)
    assert verdict["windows_to_reach"] == {"uncertainty": reached, "disagreement": 5}
    assert verdict["met"] == {"uncertainty": met, "disagreement": True}
    assert verdict["random_f1"] == 0.60


def test_disagreement_picks_where_the_parents_views_disagree(study, pool_dataset, parent, tmp_path):
    out = tmp_path / "copy"  # the same study, one more strategy: the rounds run are reused
    shutil.copytree(study[0], out)
    options = SelectionStudyOptions(strategies="disagreement,random", sizes="2,4", repeats=1)
    summary = run_selection_study(pool_dataset, out, config(parent), options)
    assert summary.runs == 4 and set(summary.target["windows_to_reach"]) == {"disagreement"}
    stems = [s for s in (pool_dataset / "pool.txt").read_text().split() if s != PADDED]
    tiles = TileDataset(pool_dataset, stems)
    plan = plan_compute("cpu", "32-true")
    scores = score_windows(parent, tiles, stems, plan, "disagreement")
    entropy = score_windows(parent, tiles, stems, plan)
    assert scores != entropy and all(s.uncertainty >= 0 for s in scores.values())
    first = picks(SelectionStudyFolder(out), "disagreement", 0, 2)
    top = max(scores, key=lambda stem: scores[stem].uncertainty)
    assert first[0][0] == top and all(p[-1] == "disagreement" for p in first)
    assert float(first[0][1]) == pytest.approx(scores[top].uncertainty, abs=1e-5)


def test_a_changed_study_is_refused_in_the_same_folder(study, pool_dataset, parent):
    changed = SelectionStudyOptions(strategies="uncertainty,random", sizes="2,3", repeats=2)
    with pytest.raises(InputError, match="other settings"):
        run_selection_study(pool_dataset, study[0], config(parent), changed)
    with pytest.raises(InputError, match="other settings"):
        run_selection_study(pool_dataset, study[0], config(parent, lr=0.01), OPTIONS)


def test_the_report_shows_the_curves(study, tmp_path):
    page = check_report(study[0], tmp_path / "sel.html", "Which windows to label", figures=1)
    assert "curves.csv" in page and "runs.csv" in page


def test_a_rerun_resumes_without_training_again(study, pool_dataset, parent, tmp_path):
    out = tmp_path / "copy"  # the shared study stays as the other tests read it
    shutil.copytree(study[0], out)
    checkpoint = SelectionStudyFolder(out).run("random", 1, 4).last_checkpoint
    before = checkpoint.stat().st_mtime_ns
    again = run_selection_study(pool_dataset, out, config(parent), OPTIONS)
    assert checkpoint.stat().st_mtime_ns == before
    assert again.target == study[1].target
    fewer = SelectionStudyOptions(strategies="random", sizes="2,4", repeats=2, score="last")
    part = run_selection_study(pool_dataset, out, config(parent), fewer)  # a part, reused
    assert checkpoint.stat().st_mtime_ns == before
    assert part.strategies == ["random"] and part.runs == 4


@pytest.mark.parametrize(
    ("changes", "options", "message"),
    [
        ({"init": None}, OPTIONS, "parent model: give (--)?init"),
        ({"val_split": None}, OPTIONS, "held-out tiles: give (--)?val.split"),
        ({}, SelectionStudyOptions(sizes="5,13"), "pool holds 11"),
    ],
)
def test_bad_input_gets_one_line(pool_dataset, parent, tmp_path, changes, options, message):
    with pytest.raises(InputError, match=message):
        run_selection_study(pool_dataset, tmp_path / "s", config(parent, **changes), options)


def test_sizes_must_increase():
    result = runner.invoke(app, ["selection-study", "D", "--out", "O", "--sizes", "10,5"])
    assert result.exit_code != 0 and "sizes must increase" in result.output
