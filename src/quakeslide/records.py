"""What the result files hold: a typed record per JSON file its writer and every reader use,
beside `folders.py`, which names the files. A broken file is an `InputError` naming it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from typing_extensions import Self

from quakeslide.errors import InputError
from quakeslide.options import problems


def read_json_object(path: Path) -> dict:
    """A result file's JSON object; unreadable or not an object: an InputError naming it."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: not a readable result file ({err})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a result file (a JSON object was expected)")
    return data


class Record(BaseModel):
    """A result file's contents; keys a record does not name are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def read(cls, path: Path) -> Self:
        try:
            return cls(**read_json_object(path))
        except ValidationError as err:
            raise InputError(
                f"{path}: broken, or not written by quakeslide ({problems(err)})"
            ) from None

    def to_json(self) -> str:
        """The file's text; optional entries the writer did not set stay absent."""
        return json.dumps(self.model_dump(mode="json", exclude_unset=True), indent=2)


class TailRecord(Record):
    """The power-law tail p(A) ~ A^-exponent above `cutoff_m2`."""

    exponent: float  # beta, of the density (not of the cumulative distribution)
    exponent_ci: tuple[float, float]  # 95 %
    cutoff_m2: float
    n_tail: int
    ks: float  # Kolmogorov-Smirnov distance of the tail from the fit


class InverseGammaRecord(Record):
    """Malamud et al.'s three-parameter inverse gamma: scipy's invgamma(rho, loc=s, scale=a)."""

    rho: float
    a_m2: float
    s_m2: float
    rollover_m2: float


class VolumeRecord(Record):
    model: str
    median: float  # m3
    low: float
    high: float
    covers: str  # what the interval covers


class EventFigures(Record):
    """An inventory's figures as landslide science counts them."""

    sources: list[str]
    count: int
    total_area_m2: float
    largest_m2: float | None
    tail: TailRecord | None  # None: refused, the reason in `refused`
    inverse_gamma: InverseGammaRecord | None
    mls: float | None  # landslide-event magnitude (Tanyas et al. 2018)
    volume_m3: VolumeRecord
    refused: dict[str, str] = {}  # fit -> why it was not made


class PredictionSummary(Record):
    """SCENE_summary.json: the scene's landslide inventory and how it was mapped."""

    scene: str
    count: int
    area_unit: Literal["m2", "px"]  # m2 where the pixel size is known
    total_area_px: float
    total_area_m2: float | None = None
    largest_area: float  # in area_unit
    area_classes: dict[str, list[float | None]]  # [low, high) in area_unit, None: unbounded
    area_histogram: dict[str, int]
    threshold: float
    separation: str = "none"  # how touching landslides were kept apart
    # the scene as an event inventory (`inventory/figures.py`); None where the pixel size
    # is unknown (areas in px)
    event: EventFigures | None = None
    # the engine that mapped it, as it describes itself (inference/engines.py, and the
    # wrappers: TTA, scene normalisation, ensembles)
    engine: str | None = None
    device: str | None = None
    precision: str | None = None
    tta: str | None = None
    normalization: dict | None = None  # by: scene, with the scene's mean / std
    parent: dict | None = None  # a fine-tuned model's parent checkpoint
    ensemble: list[str] | None = None  # the members' checkpoints

    @property
    def total_area(self) -> float:
        """In `area_unit`."""
        return self.total_area_m2 if self.area_unit == "m2" else self.total_area_px


class EpochScores(Record):
    """An epoch's scores on the held-out tiles (threshold: the F1-best one of its sweep)."""

    epoch: int
    precision: float
    recall: float
    f1: float
    iou: float
    threshold: float | None = None


class RunSummary(Record):
    """RUN/summary.json: what a training run did, on what, and how well it scored."""

    model: str
    encoder_weights: Literal["imagenet", "none"] = "none"
    parameters: int
    train_tiles: int
    val_tiles: int
    augment: int = 1
    first_copy: str = "as-is"
    ema: float = 0.0
    crop: int | None = None
    parent: dict | None = None  # a fine-tuned run's parent checkpoint
    freeze: str | None = None  # with a parent
    epochs: int
    finished: bool
    best: EpochScores | None  # None: no epoch validated yet
    final: EpochScores | None
    best_val_f1: float
    wall_seconds: float
    device: str
    devices: int = 1
    precision: str
    precision_reason: str = ""
    cpu_threads: int | None = None
    torch: str | None = None


class MeanStd(Record):
    mean: float
    std: float  # sample standard deviation (ddof 1; 0 for one value)


class FoldsRecord(Record):
    """How the folds of a cv or study were made (fold_tiles and neighbour pairs: not for a
    single named validation split)."""

    folds: int
    grouping: str
    fold_tiles: list[int] | None = None
    neighbour_pairs_across_folds: int | None = None  # None: tile positions unknown


class CvSummary(FoldsRecord):
    """CV/summary.json: the mean and spread over folds of each pixel metric."""

    model: str
    score: Literal["best", "last"] = "best"
    metrics: dict[str, MeanStd]
    wall_seconds: float
    config: dict


class StudySummary(FoldsRecord):
    """STUDY/summary.json: what the sample-size study ran (its table is table1.csv)."""

    models: list[str]
    self_train: bool = False
    sizes: list[int]
    size_unit: Literal["tiles", "scenes"] = "tiles"
    score: Literal["best", "last"] = "best"
    runs: int
    wall_seconds: float
    figures: list[str]
    config: dict


class SelectionStudySummary(Record):
    """SELECTION/summary.json: what the selection study ran and its verdict (the curves are
    curves.csv)."""

    strategies: list[str]
    sizes: list[int]
    repeats: int
    score: Literal["best", "last"]
    pool: int
    held_out: int
    target: dict
    runs: int
    wall_seconds: float
    figures: list[str]
    config: dict


class PixelScores(Record):
    """Pixel metrics of the landslide class, and the confusion counts they come from."""

    precision: float
    recall: float
    f1: float
    iou: float
    accuracy: float
    tp: int
    fp: int
    fn: int
    tn: int


class EvaluationMetrics(PixelScores):
    """EVAL/metrics.json (and compare/metrics.json): one model's scores on a set of tiles;
    the pixel scores over all pixels (micro) at `threshold`."""

    checkpoint: str
    model: str
    dataset: str
    split: str | None = None
    pixel_size_m: float | None = None
    tta: str = "none"
    normalization: str = "checkpoint"
    parent: dict | None = None  # a fine-tuned model's parent checkpoint
    threshold: float
    tiles: int
    per_tile_mean: dict[str, float | int | None]  # each metric over the tiles it is defined on
    outline_tolerance: dict | None = None  # scores with pixels near drawn outlines left out
    outline_curve: list[dict] | None = None  # the same for 0..N px
    objects: dict | None = None  # landslides as objects: detection and false-alarm counts
    best_threshold: dict  # the sweep's F1-best threshold, reported only


class InventoryRecord(EventFigures):
    """INVENTORY/inventory.json: the event's figures; with a truth inventory, the truth's
    figures and the comparison (`inventory/compare.py`)."""

    crs: str  # the metric CRS areas and grids are in
    grid_m: float
    min_area_m2: float = 0.0  # the mapping unit both inventories were cut at
    truth: EventFigures | None = None
    compare: dict | None = None
