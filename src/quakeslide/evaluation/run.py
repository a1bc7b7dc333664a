"""`quakeslide evaluate`: one or two models on a tile dataset, to an evaluation folder.

EVAL/metrics.json, per_tile.csv, pr_curve.csv/.png, outline_curve.png, panels/best.png and
worst.png; with a second model, EVAL/compare/ holds its metrics and panels/compare_*.png
show both.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from quakeslide.classes import IGNORE
from quakeslide.data.dataset import Statistics, TileDataset, channel_stats, tile_pixel_size
from quakeslide.data.positions import tile_positions
from quakeslide.device import ComputePlan, configure_cpu_threads, plan_compute
from quakeslide.evaluation.evaluate import (
    Evaluation,
    check_bands,
    evaluate_model,
    load_tiles,
    write_evaluation,
)
from quakeslide.folders import EvaluationFolder, dataset_folders
from quakeslide.inference.engines import Engine, torch_engine
from quakeslide.inference.ensemble import checkpoint_paths, load_models
from quakeslide.inference.standardise import standardised
from quakeslide.inference.tta import with_tta
from quakeslide.io.raster import refuse_output_over_input, writable_folder
from quakeslide.models.checkpoint import NormalizedNet
from quakeslide.options import EvaluateOptions, Tta
from quakeslide.records import EvaluationMetrics
from quakeslide.reporting.outline_curve import plot_outline_curves
from quakeslide.reporting.panels import ModelView, PanelTile, plot_panels
from quakeslide.reporting.pr_curve import plot_pr_curves


def run_evaluation(
    checkpoint: Path, dataset: Path, out: Path, options: EvaluateOptions | None = None
) -> EvaluationMetrics:
    """Evaluate `checkpoint` (and `options.compare`) and write the folder; returns
    metrics.json.

    Either may name an ensemble (:mod:`quakeslide.inference.ensemble`). Threshold None
    ('auto'): each model's calibrated threshold; TTA applies to both models; normalization
    own: the tiles of each source scene are standardised by their own statistics
    (:mod:`quakeslide.inference.standardise`); tolerance: pixels about the drawn outlines
    left out of the second, forgiving set of scores (0: none).
    """
    o = options or EvaluateOptions()
    split, compare, tta, tolerance = o.split, o.compare, o.tta, o.tolerance
    refuse_output_over_input(
        out, dataset, *checkpoint_paths(checkpoint), within=dataset_folders(dataset)
    )
    configure_cpu_threads()
    plan = plan_compute(o.device, o.precision)
    tiles = load_tiles(dataset, split, o.max_tiles)
    pixel_size = o.pixel_size or tile_pixel_size(dataset, tiles.stems[0])
    checkpoints = [checkpoint] + ([compare] if compare else [])
    scenes = scenes_of_tiles(dataset, tiles) if o.normalization == "own" else None
    engines, per_tile, names, cuts = [], [], [], []
    for path in checkpoints:  # every input is checked before anything is written
        engine, name = load_models(path, plan)
        check_bands(engine, tiles)
        engines.append(with_tta(engine, tta))
        per_tile.append(tile_engines(engine, scenes, tta) if scenes else None)
        cuts.append(engine.threshold(o.threshold, path))
        names.append(name if name not in names else f"{name} ({Path(path).stem})")
    writable_folder(out)
    results = [
        evaluate_model(engine, tiles, cut, pixel_size, per_tile=own, tolerance=tolerance)
        for engine, own, cut in zip(engines, per_tile, cuts, strict=True)
    ]
    context = {"dataset": str(dataset), "split": split, "pixel_size_m": pixel_size, "tta": tta,
               "normalization": o.normalization}  # fmt: skip
    folder = EvaluationFolder(out)
    folders = [folder] + ([folder.compare] if compare else [])
    written = [
        write_evaluation(
            result, target, {"checkpoint": str(path), "model": name, **context, **_lineage(engine)}
        )
        for (result, _), target, path, name, engine in zip(
            results, folders, checkpoints, names, engines, strict=True
        )
    ]
    curves = {name: result.sweep.curve() for (result, _), name in zip(results, names, strict=True)}
    plot_pr_curves(curves, dict(zip(names, cuts, strict=True)), folder.pr_curve_png)
    if tolerance:
        outline_curves = {name: m.outline_curve for name, m in zip(names, written, strict=True)}
        plot_outline_curves(outline_curves, folder.outline_curve_png)
    _write_panels(tiles, results, names, folder.panels, o.panels)
    return written[0]


def score_net(net: NormalizedNet, tiles: TileDataset, plan: ComputePlan) -> dict:
    """Pixel metrics of a trained net as it is on `tiles` (threshold 0.5), e.g. zero-shot."""
    result, _ = evaluate_model(torch_engine(net, plan), tiles, 0.5, progress=False)
    return result.micro.metrics()


class TileScenes(NamedTuple):
    """The source scene of each tile, and the statistics of each scene's tiles."""

    of_tile: list[str]
    statistics: dict[str, Statistics]


def scenes_of_tiles(dataset: Path, tiles: TileDataset) -> TileScenes:
    """Scenes from tiles.csv or offsets in names; one scene "" where positions are unknown.
    A scene's statistics leave out its tiles' ignored (nodata) pixels."""
    positions = tile_positions(dataset, tiles.stems)
    of_tile = [positions[s].scene if s in positions else "" for s in tiles.stems]
    statistics = {}
    for scene in dict.fromkeys(of_tile):
        members = [i for i, name in enumerate(of_tile) if name == scene]
        statistics[scene] = channel_stats(
            (tiles.images[i] for i in members), (tiles.masks[i] != IGNORE for i in members)
        )
    return TileScenes(of_tile, statistics)


def tile_engines(engine: Engine, scenes: TileScenes, tta: Tta) -> list[Engine]:
    """One engine per tile: standardised by the statistics of its source scene, then TTA."""
    by_scene = {
        scene: with_tta(standardised(engine, statistics), tta)
        for scene, statistics in scenes.statistics.items()
    }
    return [by_scene[name] for name in scenes.of_tile]


def _lineage(engine: Engine) -> dict:
    """The parent checkpoint of a fine-tuned model, if it is one."""
    return {"parent": engine.description["parent"]} if "parent" in engine.description else {}


def _write_panels(
    tiles: TileDataset,
    results: list[tuple[Evaluation, list[np.ndarray]]],
    names: list[str],
    folder: Path,
    count: int,
) -> None:
    """Best and worst tiles by F1 (mean F1 with two models), and where two models differ."""
    if count <= 0:
        return
    f1 = np.array([result.tile_f1() for result, _ in results])  # (models, tiles)
    ranked = [int(i) for i in np.argsort(f1.mean(axis=0)) if not np.isnan(f1[:, i]).any()]
    choices = {"worst": ranked[:count], "best": ranked[::-1][:count]}
    if len(results) == 2:
        disagreement = np.abs(f1[0] - f1[1])
        choices["disagree"] = [int(i) for i in np.argsort(-np.nan_to_num(disagreement))][:count]
    prefix = "compare_" if len(results) == 2 else ""
    versus = " vs ".join(names)
    for kind, indices in choices.items():
        if not indices:
            continue
        panel_tiles = [
            PanelTile(
                tiles.stems[i],
                tiles.images[i],
                tiles.masks[i],
                [
                    ModelView(name, predictions[i], float(f1[m, i]))
                    for m, ((_, predictions), name) in enumerate(zip(results, names, strict=True))
                ],
            )
            for i in indices
        ]
        title = (
            f"{versus}: {kind} tiles by F1" if kind != "disagree" else f"{versus}: most different"
        )
        plot_panels(panel_tiles, folder / f"{prefix}{kind}.png", title)
