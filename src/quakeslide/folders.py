"""Folder contracts: the file names of each kind of folder the stages write and read.

One frozen dataclass per kind, used by its writer and by every reader (`report`, `cli`),
so a file name is spelled once. Each kind can tell whether a folder is one of its own.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class DatasetFolder:
    """`tile`'s output: image / mask tiles, their positions, and how they were made."""

    root: Path

    @property
    def images(self) -> Path:
        return self.root / "images"

    @property
    def masks(self) -> Path:
        return self.root / "masks"

    @property
    def tiles_csv(self) -> Path:
        return self.root / "tiles.csv"

    @property
    def info(self) -> Path:
        return self.root / "dataset.json"

    def image(self, stem: str, suffix: str) -> Path:
        return self.images / f"{stem}{suffix}"

    def mask(self, stem: str) -> Path:
        return self.masks / f"{stem}.png"

    def split_list(self, split: str) -> Path:
        """`<split>.txt`: one tile stem a line (e.g. train.txt, val.txt)."""
        return self.root / f"{split}.txt"


def dataset_folders(dataset: Path) -> tuple[Path, Path]:
    """The folders of a dataset that readers take as they are: no output goes inside."""
    folder = DatasetFolder(Path(dataset))
    return folder.images, folder.masks


@dataclass(frozen=True)
class RunFolder:
    """One training run."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.csv"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints / "best.ckpt"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.ckpt"

    def is_one(self) -> bool:
        return self.metrics.exists() and self.config.exists()

    def epoch_rows(self) -> list[dict[str, float]]:
        """metrics.csv as numbers, one dict per epoch; empty before the first epoch."""
        if not self.metrics.exists():
            return []
        with open(self.metrics, newline="") as f:
            return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


@dataclass(frozen=True)
class CvFolder:
    """k-fold cross-validation: one run folder per fold plus the table over folds."""

    root: Path

    @property
    def folds_csv(self) -> Path:
        """Which tile sits in which fold."""
        return self.root / "folds.csv"

    @property
    def table(self) -> Path:
        return self.root / "cv.csv"

    @property
    def summary(self) -> Path:
        return self.root / "cv_summary.json"

    def fold(self, k: int) -> RunFolder:
        return RunFolder(self.root / f"fold_{k}")

    def fold_runs(self) -> list[RunFolder]:
        return [RunFolder(p) for p in sorted(self.root.glob("fold_*"))]

    def is_one(self) -> bool:
        return self.summary.exists()


@dataclass(frozen=True)
class StudyFolder:
    """The sample-size study: runs over models x sizes x folds and Table 1."""

    root: Path

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def folds_csv(self) -> Path:
        """Which tile sits in which fold (when the study makes folds)."""
        return self.root / "folds.csv"

    @property
    def runs_csv(self) -> Path:
        return self.root / "runs.csv"

    @property
    def table_csv(self) -> Path:
        return self.root / "table1.csv"

    @property
    def table_md(self) -> Path:
        return self.root / "table1.md"

    @property
    def figures(self) -> Path:
        return self.root / "figures"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    def run(self, model: str, size: int, fold: int) -> RunFolder:
        return RunFolder(self.runs / f"{model}_n{size}_fold{fold}")

    def pseudo_dataset(self, model: str, size: int, fold: int) -> Path:
        """With --self-train: the dataset with the fold's held-out tiles labelled by that run."""
        return self.root / "pseudo" / f"{model}_n{size}_fold{fold}"

    def is_one(self) -> bool:
        return self.table_csv.exists()


@dataclass(frozen=True)
class SelectionStudyFolder:
    """`selection-study`: rounds of labelled windows per strategy and repeat, the windows
    each round picked, and the learning curves."""

    root: Path

    @property
    def runs_csv(self) -> Path:
        return self.root / "runs.csv"

    @property
    def curves_csv(self) -> Path:
        return self.root / "curves.csv"

    @property
    def curves_md(self) -> Path:
        return self.root / "curves.md"

    @property
    def figures(self) -> Path:
        return self.root / "figures"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    @property
    def settings(self) -> Path:
        """The training config and selection options the study was started with."""
        return self.root / "settings.json"

    def run(self, strategy: str, repeat: int, size: int) -> RunFolder:
        return RunFolder(self.root / "runs" / f"{strategy}_r{repeat}_n{size}")

    def picks(self, strategy: str, repeat: int, size: int) -> Path:
        """The windows the round that ends at `size` labelled, with their uncertainty."""
        return self.root / "picks" / f"{strategy}_r{repeat}_n{size}.csv"

    def is_one(self) -> bool:
        return self.curves_csv.exists()


@dataclass(frozen=True)
class EvaluationFolder:
    """`evaluate`'s output for one model; a compared model's sits in `compare/`."""

    root: Path

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.json"

    @property
    def per_tile(self) -> Path:
        return self.root / "per_tile.csv"

    @property
    def pr_curve_csv(self) -> Path:
        return self.root / "pr_curve.csv"

    @property
    def pr_curve_png(self) -> Path:
        return self.root / "pr_curve.png"

    @property
    def outline_curve_png(self) -> Path:
        return self.root / "outline_curve.png"

    @property
    def panels(self) -> Path:
        return self.root / "panels"

    @property
    def compare(self) -> EvaluationFolder:
        return EvaluationFolder(self.root / "compare")

    def is_one(self) -> bool:
        return self.metrics.exists() and self.per_tile.exists()


@dataclass(frozen=True)
class SuggestionFolder:
    """`suggest`'s output: where to draw next, and chips to correct in Labelme."""

    root: Path

    @property
    def suggestions(self) -> Path:  # the ranked squares, styled for QGIS
        return self.root / "suggestions.gpkg"

    @property
    def chips(self) -> Path:  # RANK_SCENE.png and its pre-filled RANK_SCENE.json
        return self.root / "chips"

    def chip(self, rank: int) -> Path | None:
        """The chip PNG of the suggestion of `rank` (None if it is gone)."""
        return next(iter(sorted(self.chips.glob(f"{rank:03d}_*.png"))), None)

    def is_one(self) -> bool:
        return self.suggestions.exists()


@dataclass(frozen=True)
class InventoryFolder:
    """`inventory`'s output: the figures of one event."""

    root: Path

    @property
    def record(self) -> Path:
        return self.root / "inventory.json"

    @property
    def landslides(self) -> Path:  # a copy of the polygons with their volumes
        return self.root / "landslides.gpkg"

    @property
    def fad_png(self) -> Path:
        return self.root / "fad.png"

    @property
    def number_density(self) -> Path:  # landslides per km2
        return self.root / "density_number.tif"

    @property
    def areal_density(self) -> Path:  # % of the ground
        return self.root / "density_area.tif"

    def is_one(self) -> bool:
        return self.record.exists()


SUMMARY_SUFFIX = "_summary.json"
PREDICTION_RASTER_SUFFIXES = ("_prob.tif", "_mask.tif", "_quicklook.png")


@dataclass(frozen=True)
class PredictionOutputs:
    """`predict`'s files for one scene, named after the scene's stem."""

    probability: Path
    mask: Path
    landslides: Path
    summary: Path
    quicklook: Path
    probability_style: Path  # QGIS loads <raster stem>.qml as the raster's style
    mask_style: Path
    mask_categories: Path  # GDAL's PAM sidecar: the mask's value names and colour table
    quicklook_world: Path  # places the quicklook PNG on the map
    quicklook_crs: Path  # GDAL's PAM sidecar: the quicklook's CRS

    @classmethod
    def for_scene(cls, scene: Path, out_dir: Path) -> PredictionOutputs:
        return cls.for_stem(Path(scene).stem, Path(out_dir))

    @classmethod
    def for_stem(cls, stem: str, out_dir: Path) -> PredictionOutputs:
        suffixes = ("_prob.tif", "_mask.tif", "_landslides.gpkg", SUMMARY_SUFFIX, "_quicklook.png",
                    "_prob.qml", "_mask.qml", "_mask.tif.aux.xml", "_quicklook.pgw",
                    "_quicklook.png.aux.xml")  # fmt: skip
        return cls(*(out_dir / f"{stem}{suffix}" for suffix in suffixes))

    def finished(self) -> bool:
        """Each output is renamed into place only when complete, so existing means done."""
        return all(p.exists() for p in self.paths())

    def paths(self) -> list[Path]:
        return [Path(p) for p in asdict(self).values()]

    def started(self) -> bool:
        """predict renames the summary into place first: with it, the others are ours."""
        return self.summary.exists()


def is_prediction_output(path: Path) -> bool:
    """A raster predict wrote (its scene's summary lies beside it), not a scene to map."""
    path = Path(path)
    for suffix in PREDICTION_RASTER_SUFFIXES:
        if path.name.endswith(suffix):
            stem = path.name[: -len(suffix)]
            return (path.parent / f"{stem}{SUMMARY_SUFFIX}").exists()
    return False


@dataclass(frozen=True)
class PredictionFolder:
    """A folder `predict` wrote into: one set of `PredictionOutputs` per scene."""

    root: Path

    def scenes(self) -> list[str]:
        """Stems of the scenes with a summary (written last but for the quicklook)."""
        return [
            p.name[: -len(SUMMARY_SUFFIX)] for p in sorted(self.root.glob(f"*{SUMMARY_SUFFIX}"))
        ]

    def outputs(self, stem: str) -> PredictionOutputs:
        return PredictionOutputs.for_stem(stem, self.root)

    def is_one(self) -> bool:
        return bool(self.scenes())


ResultFolder = (
    EvaluationFolder
    | StudyFolder
    | CvFolder
    | RunFolder
    | PredictionFolder
    | InventoryFolder
    | SuggestionFolder
    | SelectionStudyFolder
)
# in the order they are tried: an evaluation or study folder may also hold a summary.json
RESULT_KINDS: dict[str, type[ResultFolder]] = {
    "inventory": InventoryFolder,
    "suggestions": SuggestionFolder,
    "evaluation": EvaluationFolder,
    "study": StudyFolder,
    "selection-study": SelectionStudyFolder,
    "cv": CvFolder,
    "run": RunFolder,
    "prediction": PredictionFolder,
}


def result_folder(folder: Path) -> tuple[str, ResultFolder] | None:
    """The kind of result `folder` holds and its contract, or None."""
    for kind, contract in RESULT_KINDS.items():
        candidate = contract(Path(folder))
        if candidate.is_one():
            return kind, candidate
    return None
