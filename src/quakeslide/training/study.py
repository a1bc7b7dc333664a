"""The paper's sample-size study: models x nested training-set sizes x folds, and Table 1."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

import numpy as np
from tqdm import tqdm

from quakeslide.config import TrainConfig
from quakeslide.data.dataset import TileDataset, list_stems
from quakeslide.data.pseudo_dataset import PSEUDO_SPLIT
from quakeslide.data.splits import Split, nested_scenes, nested_subset
from quakeslide.device import ComputePlan, plan_compute
from quakeslide.errors import InputError
from quakeslide.evaluation.run import score_net
from quakeslide.folders import DatasetFolder, RunFolder, StudyFolder
from quakeslide.inference.pseudo_label import label_tiles
from quakeslide.io.raster import atomic_path
from quakeslide.io.tables import write_csv
from quakeslide.models import count_parameters, has_imagenet_weights
from quakeslide.models.checkpoint import NormalizedNet, load_net
from quakeslide.options import StudyOptions
from quakeslide.records import StudySummary
from quakeslide.reporting.study_figures import plot_study
from quakeslide.training.cv import METRICS, dataset_pool, make_folds, mean_std
from quakeslide.training.fit import RunResult, scored_metrics, train_or_reuse

SELF_TRAINED = "+self"  # the name suffix of a run's self-trained partner


def study_folds(
    dataset: Path, config: TrainConfig, folds: int, grouping: str, folds_csv: Path
) -> tuple[list[Split], dict]:
    """The named validation split as the single fold, else k spatially grouped folds."""
    if config.val_split:
        val = list_stems(dataset, config.val_split)
        held = set(val)
        pool = [s for s in dataset_pool(dataset, config) if s not in held]
        named = DatasetFolder(dataset).split_list(config.val_split).name
        return [Split(pool, val)], {"folds": 1, "grouping": named}
    stems = dataset_pool(dataset, config)
    return make_folds(dataset, stems, folds, grouping, config.seed, folds_csv)


def run_study(
    dataset: Path,
    out: Path,
    config: TrainConfig,
    options: StudyOptions | None = None,
) -> StudySummary:
    """Every (model, size, fold) run, skipping finished ones; table1.csv/.md and figures.

    `size_unit` scenes: sizes count whole source scenes (tiles.csv), folds group by scene.
    `score`: each run's best or last epoch (see `scored_metrics`); finished runs are
    rescored, not retrained, when it changes. `self_train`: each run has a partner
    `<model>+self`, trained alike on its tiles plus the fold's held-out tiles as its last
    epoch labelled them (pseudo-labels; their true masks are only scored).
    """
    options = options or StudyOptions()
    models, sizes, size_unit, score = (
        options.models, options.sizes, options.size_unit, options.score
    )  # fmt: skip
    dataset, folder = Path(dataset), StudyFolder(Path(out))
    splits, record = study_folds(dataset, config, options.folds, options.grouping, folder.folds_csv)
    draws = [partial(_draw, dataset, split.train, size_unit, config.seed + k)
             for k, split in enumerate(splits)]  # fmt: skip
    for draw in draws:
        draw(max(sizes))  # a size too large for a fold: refused before any run
    rows: list[dict] = []
    variants = None
    if config.init:  # the parent is read once: its architecture and its zero-shot scores
        parent, meta = load_net(Path(config.init))
        variants = transfer_variants(meta["model"], parent)
        models = list(variants)
        rows = [zero_shot_row(dataset, parent, config, split, k) for k, split in enumerate(splits)]
    plan = plan_compute(config.device, config.precision)
    jobs = [(m, n, k) for k in range(len(splits)) for n in sizes for m in models]
    for model, size, k in tqdm(jobs, desc="study runs", unit="run"):
        settings = variants[model] if variants else {"model": model}
        run_config = TrainConfig(**(config.model_dump() | settings | {"max_tiles": None}))
        split = Split(draws[k](size), splits[k].val)
        run = folder.run(model, size, k)
        result = train_or_reuse(dataset, run.root, run_config, split)
        rows.append(study_row(model, size, k, len(split.train), result, score))
        if options.self_train:
            pseudo_folder = folder.pseudo_dataset(model, size, k)
            labelled = _pseudo_labelled(dataset, pseudo_folder, run, split, plan)
            pseudo = list_stems(labelled, PSEUDO_SPLIT)
            partner = folder.run(model + SELF_TRAINED, size, k)
            result = train_or_reuse(
                labelled, partner.root, run_config, Split(split.train + pseudo, split.val)
            )
            rows.append(study_row(model + SELF_TRAINED, size, k, len(split.train), result, score))
    write_csv(folder.runs_csv, rows)
    table = table1(rows)
    write_csv(folder.table_csv, table)
    with atomic_path(folder.table_md) as tmp:
        tmp.write_text(table1_markdown(table, size_unit, score))
    figures = plot_study(table, folder.figures, size_unit)
    summary = StudySummary(
        **record,
        models=list(dict.fromkeys(r["model"] for r in rows if r["model"] != "zero-shot")),
        self_train=options.self_train,
        sizes=sizes,
        size_unit=size_unit,
        score=score,
        runs=len(rows),
        wall_seconds=round(sum(r["wall_seconds"] for r in rows), 1),
        figures=[str(p.relative_to(folder.root)) for p in figures],
        config=config.model_dump(mode="json"),
    )
    with atomic_path(folder.summary) as tmp:
        tmp.write_text(summary.to_json())
    return summary


def study_row(model: str, size: int, fold: int, tiles: int, result: RunResult, score: str) -> dict:
    """One line of runs.csv: the run's scored metrics and what it cost."""
    summary = result.summary
    scored = scored_metrics(result, score)
    return {
        "model": model,
        "size": size,
        "fold": fold,
        "tiles": tiles,
        **{m: getattr(scored, m) for m in METRICS},
        "scored_epoch": scored.epoch,
        "epochs": summary.epochs,
        "parameters": summary.parameters,
        "wall_seconds": summary.wall_seconds,
        "device": summary.device,
        "arithmetic": summary.precision,
    }


def _pseudo_labelled(
    dataset: Path, out: Path, run: RunFolder, split: Split, plan: ComputePlan
) -> Path:
    """`dataset` with `split.val` labelled by the run's last checkpoint (chosen without
    looking at those tiles' labels), written once and reused when the study resumes."""
    if not out.exists():
        label_tiles(run.last_checkpoint, dataset, split.val, out, plan, labelled=split.train)
    return out


def _draw(dataset: Path, pool: list[str], unit: str, seed: int, size: int) -> list[str]:
    """The nested training set of `size` tiles, or of the tiles of `size` scenes."""
    if unit == "scenes":
        return nested_scenes(dataset, pool, size, seed)
    if size > len(pool):
        raise InputError(f"size {size} exceeds the {len(pool)} tiles a fold can train on")
    return nested_subset(pool, size, seed)


def transfer_variants(model: str, parent: NormalizedNet) -> dict[str, dict]:
    """With --init: the parent's architecture from scratch (every weight at the full rate),
    from ImageNet alone (no parent; where the architecture has ImageNet weights), and from
    the parent with every weight trained and with its encoder frozen (where the architecture
    has one)."""
    fresh = {"model": model, "init": None, "freeze": "none", "encoder_lr_scale": 1.0}
    variants = {"scratch": fresh}
    if has_imagenet_weights(model):
        variants["scratch"] = fresh | {"encoder_weights": "none"}
        variants["imagenet"] = fresh | {"encoder_weights": "imagenet"}
    variants["adapted"] = {"model": model, "freeze": "none"}
    if parent.net.encoder_modules():
        variants["adapted-frozen"] = {"model": model, "freeze": "encoder"}
    return variants


def zero_shot_row(
    dataset: Path, parent: NormalizedNet, config: TrainConfig, split: Split, fold: int
) -> dict:
    """The parent as it is on the fold's validation tiles: the curve's point at 0 tiles."""
    plan = plan_compute(config.device, config.precision)
    started = time.perf_counter()
    metrics = score_net(parent, TileDataset(dataset, split.val), plan)
    return {
        "model": "zero-shot",
        "size": 0,
        "fold": fold,
        "tiles": 0,
        **{m: metrics[m] for m in METRICS},
        "scored_epoch": -1,
        "epochs": 0,
        "parameters": count_parameters(parent.net),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "device": plan.device,
        "arithmetic": plan.precision,
    }


def table1(rows: list[dict]) -> list[dict]:
    """One line per (model, size): fold mean and spread of each metric, cost of the runs."""
    table = []
    for model in dict.fromkeys(r["model"] for r in rows):
        for size in sorted({r["size"] for r in rows if r["model"] == model}):
            runs = [r for r in rows if r["model"] == model and r["size"] == size]
            stats = mean_std(runs)
            table.append(
                {
                    "model": model,
                    "size": size,
                    "tiles_mean": round(float(np.mean([r["tiles"] for r in runs])), 1),
                    "folds": len(runs),
                    **{f"{m}_mean": round(stats[m]["mean"], 4) for m in METRICS},
                    **{f"{m}_std": round(stats[m]["std"], 4) for m in METRICS},
                    "parameters_m": round(runs[0]["parameters"] / 1e6, 2),
                    "epochs": runs[0]["epochs"],
                    "train_val_hours": round(sum(r["wall_seconds"] for r in runs) / 3600, 3),
                    "device": f"{runs[0]['device']} {runs[0]['arithmetic']}",
                }
            )
    return table


SCORE_CAPTIONS = {
    "best": "Each run at its best epoch on the held-out tiles (the paper's protocol).",
    "last": "Each run at its last epoch (chosen without looking at the held-out tiles).",
}


def table1_markdown(table: list[dict], size_unit: str = "tiles", score: str = "best") -> str:
    """Table 1 in markdown; sized in scenes, a column gives the mean training tiles too."""
    scenes = size_unit == "scenes"
    lines = [
        SCORE_CAPTIONS[score],
        "",
        f"| model | {size_unit} |{' tiles |' * scenes} folds | precision | recall | F1 | IoU |"
        " params (M) | epochs | train+val (h) | device |",
        "|---|---|---|---|---|---|---|---|---|---|---|" + "---|" * scenes,
    ]
    for t in table:
        cells = [f"{t[f'{m}_mean']:.3f} ± {t[f'{m}_std']:.3f}" for m in METRICS]
        tiles = f" {t['tiles_mean']:g} |" * scenes
        lines.append(
            f"| {t['model']} | {t['size']} |{tiles} {t['folds']} | {' | '.join(cells)} |"
            f" {t['parameters_m']} | {t['epochs']} | {t['train_val_hours']} | {t['device']} |"
        )
    return "\n".join(lines) + "\n"
