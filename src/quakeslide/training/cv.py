"""k-fold cross-validation: one run per fold, folds grouped by space where positions are known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from quakeslide.config import TrainConfig
from quakeslide.data.dataset import list_stems
from quakeslide.data.splits import (
    Split,
    assign_folds,
    fold_groups,
    fold_split,
    neighbours_across_folds,
    nested_subset,
)
from quakeslide.folders import CvFolder, dataset_folders
from quakeslide.io.raster import atomic_path, refuse_output_over_input, writable_folder
from quakeslide.io.tables import write_csv
from quakeslide.options import CvOptions
from quakeslide.records import CvSummary
from quakeslide.training.fit import scored_metrics, train_or_reuse

METRICS = ("precision", "recall", "f1", "iou")


def dataset_pool(dataset: Path, config: TrainConfig) -> list[str]:
    """Tiles a cv or study draws from: the train split if named, else all; cut to max_tiles."""
    stems = list_stems(dataset, config.train_split)
    if config.max_tiles is not None and config.max_tiles < len(stems):
        stems = nested_subset(stems, config.max_tiles, config.seed)
    return stems


def make_folds(
    dataset: Path, stems: list[str], folds: int, grouping: str, seed: int, folds_csv: Path
) -> tuple[list[Split], dict]:
    """k splits (each fold validates once) and a record of how they were made (`folds_csv`)."""
    groups, used = fold_groups(dataset, stems, folds, grouping)
    fold_of = assign_folds(groups, folds, seed)
    folds_csv.parent.mkdir(parents=True, exist_ok=True)
    table = [{"stem": s, "fold": fold_of[s], "group": groups[s]} for s in stems]
    write_csv(folds_csv, table)
    splits = [fold_split(stems, fold_of, k) for k in range(folds)]
    record = {
        "folds": folds,
        "grouping": used,
        "fold_tiles": [len(s.val) for s in splits],
        "neighbour_pairs_across_folds": neighbours_across_folds(dataset, fold_of),
    }
    return splits, record


def mean_std(rows: list[dict], keys: tuple[str, ...] = METRICS) -> dict[str, dict[str, float]]:
    """Mean and sample standard deviation (ddof 1; 0 for one value) of each key."""
    out = {}
    for key in keys:
        values = np.array([r[key] for r in rows], dtype=float)
        std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        out[key] = {"mean": float(values.mean()), "std": std}
    return out


def cross_validate(
    dataset: Path,
    out: Path,
    config: TrainConfig,
    options: CvOptions | None = None,
) -> CvSummary:
    """Train one run per fold (finished folds are kept, stopped ones resumed); each fold
    reports its best or its last epoch (`options.score`, see `scored_metrics`)."""
    options = options or CvOptions()
    refuse_output_over_input(out, dataset, within=dataset_folders(dataset))
    dataset, folder = Path(dataset), CvFolder(writable_folder(Path(out)))
    stems = dataset_pool(dataset, config)
    splits, record = make_folds(
        dataset, stems, options.folds, options.grouping, config.seed, folder.folds_csv
    )
    run_config = config.model_copy(update={"max_tiles": None})
    rows = []
    for k, split in enumerate(tqdm(splits, desc="folds", unit="fold")):
        result = train_or_reuse(dataset, folder.fold(k).root, run_config, split)
        scored = scored_metrics(result, options.score)
        rows.append(
            {
                "fold": k,
                "train_tiles": len(split.train),
                "val_tiles": len(split.val),
                "scored_epoch": scored.epoch,
                **{m: getattr(scored, m) for m in METRICS},
                "wall_seconds": result.summary.wall_seconds,
            }
        )
    write_csv(folder.table, rows)
    summary = CvSummary(
        model=config.model,
        **record,
        score=options.score,
        metrics=mean_std(rows),
        wall_seconds=round(sum(r["wall_seconds"] for r in rows), 1),
        config=config.model_dump(mode="json"),
    )
    with atomic_path(folder.summary) as tmp:
        tmp.write_text(summary.to_json())
    return summary
