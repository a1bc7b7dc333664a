"""Score a model on a tile dataset: pixel metrics (micro and per tile), objects, thresholds."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from quakeslide.classes import BACKGROUND, IGNORE, LANDSLIDE
from quakeslide.data.dataset import TileDataset, list_stems
from quakeslide.errors import InputError
from quakeslide.evaluation.objects import ObjectCounts, match_objects
from quakeslide.evaluation.pixel import Confusion
from quakeslide.evaluation.thresholds import ThresholdSweep
from quakeslide.evaluation.tolerance import CURVE_PIXELS, OutlineCounts
from quakeslide.folders import EvaluationFolder
from quakeslide.inference.engines import Engine
from quakeslide.io.raster import atomic_path
from quakeslide.io.tables import write_csv
from quakeslide.records import EvaluationMetrics

PIXEL_METRICS = ("precision", "recall", "f1", "iou", "accuracy")


@dataclass
class Evaluation:
    """One model's results on one set of tiles."""

    stems: list[str]
    threshold: float
    per_tile: list[Confusion] = field(default_factory=list)
    tolerance: int = 0
    outlines: OutlineCounts | None = None
    objects: ObjectCounts | None = None
    sweep: ThresholdSweep = field(default_factory=ThresholdSweep)

    @property
    def micro(self) -> Confusion:
        return sum(self.per_tile, Confusion())

    def tile_f1(self) -> np.ndarray:
        """Per-tile F1, NaN where the tile has neither true nor predicted landslide."""
        return np.array([c.defined("f1") for c in self.per_tile])

    def metrics(self) -> dict:
        return {
            **self.micro.metrics(),
            "threshold": self.threshold,
            "tiles": len(self.stems),
            "per_tile_mean": _per_tile_mean(self.per_tile),
            "outline_tolerance": self.outlines.scores(self.tolerance) if self.outlines else None,
            "outline_curve": self.outlines.curve() if self.outlines else None,
            "objects": self.objects.summary() if self.objects else None,
            "best_threshold": {
                **self.sweep.best(),
                "note": "F1-best threshold of the sweep, reported only: the metrics above use"
                " `threshold`",
            },
        }


def load_tiles(dataset: Path, split: str | None, max_tiles: int | None) -> TileDataset:
    stems = list_stems(dataset, split)[:max_tiles]
    if not stems:
        raise InputError(f"{dataset}: no tile to evaluate (split {split or 'all'})")
    tiles = TileDataset(dataset, stems)
    values = set(np.unique(np.concatenate([np.unique(m) for m in tiles.masks])).tolist())
    known = {BACKGROUND, LANDSLIDE, IGNORE}
    if not values <= known:
        raise InputError(
            f"{dataset}/masks: values {sorted(values - known)} are not background ({BACKGROUND}),"
            f" landslide ({LANDSLIDE}) or ignore ({IGNORE}): the model has two classes"
        )
    return tiles


def check_bands(engine: Engine, tiles: TileDataset) -> None:
    bands = {image.shape[0] for image in tiles.images}
    if bands != {engine.bands}:
        raise InputError(
            f"the tiles have {'/'.join(map(str, sorted(bands)))} band(s),"
            f" the model expects {engine.bands}"
        )


def predict_tiles(
    engine: Engine,
    tiles: TileDataset,
    batch_size: int = 8,
    per_tile: Sequence[Engine] | None = None,
) -> Iterator[np.ndarray]:
    """Probability (H, W) of every tile, in order; tiles of one size are batched.

    `per_tile`: each tile's own engine where they differ (one per scene, say), else `engine`.
    """
    check_bands(engine, tiles)
    engines = per_tile if per_tile is not None else [engine] * len(tiles)
    batch: list[np.ndarray] = []
    batch_engine = engine
    for image, tile_engine in zip(tiles.images, engines, strict=True):
        full = len(batch) == batch_size
        if batch and (full or image.shape != batch[0].shape or tile_engine is not batch_engine):
            yield from batch_engine.predict(np.stack(batch))
            batch = []
        batch.append(image)
        batch_engine = tile_engine
    if batch:
        yield from batch_engine.predict(np.stack(batch))


def evaluate_model(
    engine: Engine,
    tiles: TileDataset,
    threshold: float = 0.5,
    pixel_size: float | None = None,
    progress: bool = True,
    per_tile: Sequence[Engine] | None = None,
    tolerance: int = 0,
) -> tuple[Evaluation, list[np.ndarray]]:
    """-> (evaluation, per-tile predicted masks (bool) for the panels); `per_tile`: see
    :func:`predict_tiles`; `tolerance` > 0: also scored without the pixels that close to a
    drawn outline, and at every distance up to it or CURVE_PIXELS (the curve)."""
    result = Evaluation(list(tiles.stems), threshold, tolerance=tolerance)
    if tolerance:
        result.outlines = OutlineCounts(max(tolerance, CURVE_PIXELS))
    pixel_area = pixel_size**2 if pixel_size else None
    result.objects = ObjectCounts("px" if pixel_area is None else "m2")
    predictions = []
    stream = predict_tiles(engine, tiles, per_tile=per_tile)
    for probability, truth in tqdm(
        zip(stream, tiles.masks, strict=True),
        total=len(tiles),
        desc="evaluate",
        disable=not progress,
    ):
        predicted = probability >= threshold
        result.per_tile.append(Confusion.from_arrays(predicted, truth))
        if result.outlines:
            result.outlines.add(predicted, truth)
        result.objects += match_objects(predicted, truth, pixel_area)
        result.sweep.add(probability, truth)
        predictions.append(predicted)
    return result, predictions


def write_evaluation(
    result: Evaluation, folder: EvaluationFolder, extra: dict
) -> EvaluationMetrics:
    """metrics.json, per_tile.csv and pr_curve.csv in `folder`; returns the metrics."""
    folder.root.mkdir(parents=True, exist_ok=True)
    metrics = EvaluationMetrics(**extra, **result.metrics())
    with atomic_path(folder.metrics) as tmp:
        tmp.write_text(metrics.to_json())
    rows = [
        {"stem": stem, **{k: _csv(c.defined(k)) for k in PIXEL_METRICS}, **c.__dict__}
        for stem, c in zip(result.stems, result.per_tile, strict=True)
    ]
    write_csv(folder.per_tile, rows)
    curve = result.sweep.curve()
    write_csv(
        folder.pr_curve_csv,
        [{k: round(float(v[i]), 6) for k, v in curve.items()} for i in range(len(curve["f1"]))],
    )
    return metrics


def _per_tile_mean(per_tile: list[Confusion]) -> dict:
    block = {}
    for metric in PIXEL_METRICS:
        values = np.array([c.defined(metric) for c in per_tile])
        defined = values[~np.isnan(values)]
        block[metric] = float(defined.mean()) if len(defined) else None
        block[f"{metric}_tiles"] = int(len(defined))
    return block


def _csv(value: float) -> float | str:
    return "" if math.isnan(value) else round(value, 6)
