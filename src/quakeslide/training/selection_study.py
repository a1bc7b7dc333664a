"""`quakeslide selection-study`: is labelling where the model is unsure worth more than
labelling at random? A simulation of the first hours of a new event (issue 37).

The training tiles of a labelled dataset stand for windows of the new scene, their true
masks for the mapper's corrections. For each strategy and repeat, rounds add windows to
the labelled set until it holds each of `sizes`: `uncertainty` and `mixed` rank the
windows left by the mean binary entropy of the latest model (its last epoch, chosen
without the held-out tiles), `disagreement` by how much its eight mirrored / rotated views
disagree, all with `suggest`'s own ranking (neighbours of a pick left out, a random share
for `mixed`); `random` draws them (and only its picks are scored). Every round fine-tunes
from the parent on all windows labelled so far and is scored on the held-out tiles.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import shapely
from rasterio.windows import Window
from tqdm import tqdm

from quakeslide.classes import IGNORE
from quakeslide.config import TrainConfig
from quakeslide.data.dataset import TileDataset
from quakeslide.data.positions import tile_positions
from quakeslide.data.splits import Split
from quakeslide.device import ComputePlan, plan_compute
from quakeslide.errors import InputError
from quakeslide.folders import SelectionStudyFolder
from quakeslide.inference.suggest import MIN_VALID, Square, rank
from quakeslide.inference.uncertainty import measure_for
from quakeslide.io.raster import atomic_path
from quakeslide.io.tables import write_csv
from quakeslide.models.checkpoint import load_net
from quakeslide.options import SelectionStudyOptions, named
from quakeslide.records import SelectionStudySummary
from quakeslide.reporting.study_figures import plot_selection_curves
from quakeslide.training.cv import METRICS, mean_std
from quakeslide.training.fit import RunResult, scored_metrics, train_or_reuse
from quakeslide.training.study import study_folds, zero_shot_row
from quakeslide.training.window_scores import WindowScore, score_windows

PICK_COLUMNS = ("picked_uncertainty", "prefilled", "kept", "truth", "picked")


@dataclass(frozen=True)
class Round:
    """One round of one strategy's repeat: it labels windows until `size` are labelled."""

    strategy: str
    repeat: int
    index: int  # 0 for the first round
    size: int  # windows labelled after it


def run_selection_study(
    dataset: Path, out: Path, config: TrainConfig, options: SelectionStudyOptions | None = None
) -> SelectionStudySummary:
    """Every (repeat, strategy, round) fine-tune, skipping finished ones; the learning
    curves (curves.csv / .md), a figure and summary.json."""
    o = options or SelectionStudyOptions()
    if not config.init:
        raise InputError(f"selection-study starts from a parent model: give {named('init')}")
    if not config.val_split:
        raise InputError(
            f"selection-study scores every round on held-out tiles: give {named('val_split')}"
        )
    dataset, folder = Path(dataset), SelectionStudyFolder(Path(out))
    [split], _ = study_folds(dataset, config, 2, "auto", folder.root / "folds.csv")
    pool = TileDataset(dataset, split.train)  # read once: every round scores from it
    windows = _windows(dataset, pool)
    if o.sizes[-1] > len(windows):
        raise InputError(
            f"{named('sizes')} asks for {o.sizes[-1]} windows, the pool holds {len(windows)}"
            f" with at least {MIN_VALID:.0%} of their pixels valid"
        )
    parent, meta = load_net(Path(config.init))
    config = TrainConfig(**(config.model_dump() | {"model": meta["model"]}))  # the parent's
    _same_study(folder, config, o)
    plan = plan_compute(config.device, config.precision)
    zero = zero_shot_row(dataset, parent, config, split, 0)
    no_picks = dict.fromkeys(PICK_COLUMNS, "")
    rows = [{"strategy": "zero-shot", "repeat": 0, **_curve_point(zero, 0), **no_picks}]
    jobs = [(r, s) for r in range(o.repeats) for s in o.strategies]
    progress = tqdm(total=len(jobs) * len(o.sizes), desc="selection rounds", unit="run")
    for repeat, strategy in jobs:
        labelled: list[str] = []
        scorer = Path(config.init)
        for index, size in enumerate(o.sizes):
            step = Round(strategy, repeat, index, size)
            picked = _picked(folder, step, windows, labelled, scorer, pool, plan, config.seed)
            labelled += [stem for stem, _ in picked]
            changes = {"seed": config.seed + repeat, "max_tiles": None}  # every window trains
            run_config = TrainConfig(**(config.model_dump() | changes))
            run = folder.run(strategy, repeat, size)
            result = train_or_reuse(dataset, run.root, run_config, Split(labelled, split.val))
            rows.append(_round_row(step, result, picked, o.score))
            scorer = run.last_checkpoint
            progress.update()
    progress.close()
    write_csv(folder.runs_csv, rows)
    curves = selection_curves(rows)
    write_csv(folder.curves_csv, curves)
    verdict = target_check(curves, o.sizes)
    with atomic_path(folder.curves_md) as tmp:
        tmp.write_text(curves_markdown(curves, o.score, verdict))
    figure = plot_selection_curves(rows, curves, folder.figures)
    summary = SelectionStudySummary(
        strategies=o.strategies,
        sizes=o.sizes,
        repeats=o.repeats,
        score=o.score,
        pool=len(windows),
        held_out=len(split.val),
        target=verdict,
        runs=len(rows) - 1,
        wall_seconds=round(sum(r["wall_seconds"] for r in rows), 1),
        figures=[str(figure.relative_to(folder.root))],
        config=config.model_dump(mode="json"),
    )
    with atomic_path(folder.summary) as tmp:
        tmp.write_text(summary.to_json())
    return summary


def _same_study(
    folder: SelectionStudyFolder, config: TrainConfig, o: SelectionStudyOptions
) -> None:
    """Record what the study is; a rerun into its folder must be the same study (training
    settings and rounds), so that saved picks and finished rounds are reused only where
    they were made alike. More strategies or repeats, or another scored epoch, may be
    asked: the rounds already run are kept."""
    settings = {"training": config.model_dump(mode="json"), "sizes": o.sizes}
    if folder.settings.exists():
        if json.loads(folder.settings.read_text()) != settings:
            raise InputError(
                f"{folder.root}: holds a selection study with other settings; use a new out folder"
            )
        return
    folder.root.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder.settings) as tmp:
        tmp.write_text(json.dumps(settings, indent=1))


def _windows(dataset: Path, pool: TileDataset) -> dict[str, Square]:
    """Each pool tile as a square of suggest's grid: its scene and cell, so a pick's
    neighbours can be left out (a tile with no known position has none). Tiles mostly
    nodata (255 in the mask, e.g. padding) are left out, as suggest leaves such squares."""
    positions = tile_positions(dataset, pool.stems)
    squares = {}
    for stem, mask in zip(pool.stems, pool.masks, strict=True):
        if (mask != IGNORE).mean() < MIN_VALID:
            continue
        p = positions.get(stem)
        scene, row, col = (p.scene, p.row // p.height, p.col // p.width) if p else (stem, 0, 0)
        window = Window(p.col, p.row, p.width, p.height) if p else Window(0, 0, 1, 1)
        squares[stem] = Square(Path(scene), row, col, window, shapely.box(0, 0, 1, 1), 0.0)
    cells = {(s.scene, s.row, s.col) for s in squares.values()}
    if len(cells) < len(squares):
        raise InputError(f"{dataset}: tiles overlap; the selection study needs a grid of tiles")
    return squares


def _picked(
    folder: SelectionStudyFolder,
    step: Round,
    windows: dict[str, Square],
    labelled: list[str],
    scorer: Path,
    pool: TileDataset,
    plan: ComputePlan,
    seed: int,
) -> list[tuple[str, WindowScore]]:
    """The windows this round labels, scored by the model that picked them; read back
    when a stopped study resumes, so a rerun trains on the same windows."""
    saved = folder.picks(step.strategy, step.repeat, step.size)
    if saved.exists():
        with open(saved, newline="") as f:
            picked = [(r["stem"], WindowScore(float(r["uncertainty"]), int(r["prefilled"]),
                                              int(r["kept"]), int(r["truth"])))
                      for r in csv.DictReader(f)]  # fmt: skip
        stems = set(labelled) | {stem for stem, _ in picked}
        if len(stems) != step.size or not stems <= set(windows):
            raise InputError(f"{saved}: not the picks of this study's rounds; use a new out folder")
        return picked
    done = set(labelled)
    left = [stem for stem in windows if stem not in done]
    measure = measure_for(step.strategy)
    ranks = step.strategy != "random"  # a random draw needs no scores to choose
    scores = score_windows(scorer, pool, left, plan, measure) if ranks else {}
    by_cell = {(windows[s].scene, windows[s].row, windows[s].col): s for s in left}
    candidates = [replace(windows[s], score=scores[s].uncertainty if ranks else 0.0) for s in left]
    draw_seed = abs((seed * 1000 + step.repeat) * 1000 + step.index)
    chosen = rank(candidates, step.size - len(labelled), step.strategy, draw_seed)
    picked = [(by_cell[(c.scene, c.row, c.col)], c.picked_by) for c in chosen]
    if not ranks:
        scores = score_windows(scorer, pool, [stem for stem, _ in picked], plan, measure)
    saved.parent.mkdir(parents=True, exist_ok=True)
    write_csv(saved, [{"stem": stem, **asdict(scores[stem]), "picked_by": how}
                      for stem, how in picked])  # fmt: skip
    return [(stem, scores[stem]) for stem, _ in picked]


def _curve_point(scores: dict, size: int) -> dict:
    kept = (*METRICS, "scored_epoch", "wall_seconds")
    return {"size": size, **{key: scores[key] for key in kept}}


def _round_row(
    step: Round, result: RunResult, picked: list[tuple[str, WindowScore]], score: str
) -> dict:
    """One line of runs.csv: the round's scores on the held-out tiles, and the windows it
    labelled: how unsure the picking model was of them, its pre-filled outlines there and
    how many of those a mapper keeps (drawing saved), the true landslides there."""
    scored = scored_metrics(result, score)
    windows = [w for _, w in picked]
    return {
        "strategy": step.strategy,
        "repeat": step.repeat,
        "size": step.size,
        **{m: getattr(scored, m) for m in METRICS},
        "scored_epoch": scored.epoch,
        "wall_seconds": result.summary.wall_seconds,
        "picked_uncertainty": round(float(np.mean([w.uncertainty for w in windows])), 4),
        "prefilled": sum(w.prefilled for w in windows),
        "kept": sum(w.kept for w in windows),
        "truth": sum(w.truth for w in windows),
        "picked": " ".join(stem for stem, _ in picked),
    }


def selection_curves(rows: list[dict]) -> list[dict]:
    """Mean and spread over repeats of each strategy's scores at each size (the zero-shot
    point opens every curve)."""
    curves = []
    for strategy in dict.fromkeys(r["strategy"] for r in rows):
        for size in sorted({r["size"] for r in rows if r["strategy"] == strategy}):
            runs = [r for r in rows if r["strategy"] == strategy and r["size"] == size]
            stats = mean_std(runs)
            curves.append(
                {
                    "strategy": strategy,
                    "size": size,
                    "repeats": len(runs),
                    **{f"{m}_mean": round(stats[m]["mean"], 4) for m in METRICS},
                    **{f"{m}_std": round(stats[m]["std"], 4) for m in METRICS},
                }  # fmt: skip
            )
    return curves


RANKED = ("uncertainty", "disagreement", "mixed")  # strategies that rank by the model


def target_check(curves: list[dict], sizes: list[int]) -> dict:
    """Issue 37's target, for each ranking strategy run: the fewest windows with which it
    reaches the mean F1 `random` has with the most windows (None: not within the sizes
    run); met when that is at most half of random's windows (10 for 20)."""
    f1 = {(c["strategy"], c["size"]): c["f1_mean"] for c in curves}
    largest = sizes[-1]
    if ("random", largest) not in f1:
        return {}
    goal = f1[("random", largest)]
    ranked = [s for s in RANKED if (s, largest) in f1]
    reached = {s: next((n for n in sizes if f1[(s, n)] >= goal), None) for s in ranked}
    return {
        "random_windows": largest,
        "random_f1": goal,
        "windows_to_reach": reached,
        "met": {s: n is not None and n <= largest / 2 for s, n in reached.items()},
    }


SCORE_NOTES = {
    "best": "each round at its best epoch on the held-out tiles (the paper's protocol)",
    "last": "each round at its last epoch (chosen without looking at the held-out tiles)",
}


def curves_markdown(curves: list[dict], score: str, verdict: dict) -> str:
    """The learning curves as a markdown table, and the target's verdict."""
    lines = [
        f"F1 on the held-out tiles against labelled windows, {SCORE_NOTES[score]}; mean ±"
        " spread over repeats.",
        "",
        "| strategy | windows | repeats | precision | recall | F1 | IoU |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in curves:
        cells = [f"{c[f'{m}_mean']:.3f} ± {c[f'{m}_std']:.3f}" for m in METRICS]
        lines.append(f"| {c['strategy']} | {c['size']} | {c['repeats']} | {' | '.join(cells)} |")
    if verdict:
        goal = f"F1 {verdict['random_f1']:.3f}"
        lines += ["", f"random with {verdict['random_windows']} windows: {goal}; target: reach"
                  " it with at most half as many."]  # fmt: skip
        for strategy, reached in verdict["windows_to_reach"].items():
            met = "met" if verdict["met"][strategy] else "not met"
            where = f"with {reached} windows" if reached else "with none of the sizes run"
            lines.append(f"- {strategy} reaches it {where}: {met}.")
    return "\n".join(lines) + "\n"
