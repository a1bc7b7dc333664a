"""The paper's sample-size study: models x nested training-set sizes x folds, and Table 1."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tqdm import tqdm

from quakeslide.config import TrainConfig
from quakeslide.data.dataset import TileDataset, list_stems
from quakeslide.data.splits import Split, nested_subset
from quakeslide.device import plan_compute
from quakeslide.errors import InputError
from quakeslide.evaluation.run import score_net
from quakeslide.folders import DatasetFolder, StudyFolder
from quakeslide.io.raster import atomic_path
from quakeslide.io.tables import write_csv
from quakeslide.models import count_parameters
from quakeslide.models.checkpoint import NormalizedNet, load_net
from quakeslide.reporting.study_figures import plot_study
from quakeslide.training.cv import METRICS, dataset_pool, make_folds, mean_std
from quakeslide.training.fit import best_metrics, train_or_reuse


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
    models: list[str],
    sizes: list[int],
    folds: int = 5,
    grouping: str = "auto",
) -> dict:
    """Every (model, size, fold) run, skipping finished ones; table1.csv/.md and figures."""
    dataset, folder = Path(dataset), StudyFolder(Path(out))
    splits, record = study_folds(dataset, config, folds, grouping, folder.folds_csv)
    smallest_pool = min(len(s.train) for s in splits)
    if max(sizes) > smallest_pool:
        raise InputError(f"size {max(sizes)} exceeds the {smallest_pool} tiles a fold can train on")
    rows: list[dict] = []
    variants = None
    if config.init:  # the parent is read once: its architecture and its zero-shot scores
        parent, meta = load_net(Path(config.init))
        variants = transfer_variants(meta["model"])
        models = list(variants)
        rows = [zero_shot_row(dataset, parent, config, split, k) for k, split in enumerate(splits)]
    jobs = [(m, n, k) for k in range(len(splits)) for n in sizes for m in models]
    for model, size, k in tqdm(jobs, desc="study runs", unit="run"):
        settings = variants[model] if variants else {"model": model}
        run_config = TrainConfig(**(config.model_dump() | settings | {"max_tiles": None}))
        split = Split(nested_subset(splits[k].train, size, config.seed + k), splits[k].val)
        run = folder.run(model, size, k)
        result = train_or_reuse(dataset, run.root, run_config, split)
        summary = result.summary
        best = best_metrics(result)
        rows.append(
            {
                "model": model,
                "size": size,
                "fold": k,
                **{m: best[m] for m in METRICS},
                "best_epoch": best["epoch"],
                "epochs": summary["epochs"],
                "parameters": summary["parameters"],
                "wall_seconds": summary["wall_seconds"],
                "device": summary["device"],
                "arithmetic": summary["precision"],
            }
        )
    write_csv(folder.runs_csv, rows)
    table = table1(rows)
    write_csv(folder.table_csv, table)
    with atomic_path(folder.table_md) as tmp:
        tmp.write_text(table1_markdown(table))
    figures = plot_study(table, folder.figures)
    summary = {
        **record,
        "models": models,
        "sizes": sizes,
        "runs": len(rows),
        "wall_seconds": round(sum(r["wall_seconds"] for r in rows), 1),
        "figures": [str(p.relative_to(folder.root)) for p in figures],
        "config": config.model_dump(mode="json"),
    }
    with atomic_path(folder.summary) as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    return summary


def transfer_variants(model: str) -> dict[str, dict]:
    """With --init: the parent's architecture from scratch and from the parent, side by side."""
    return {
        "scratch": {"model": model, "init": None, "freeze": "none"},
        "adapted": {"model": model},
    }


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
        **{m: metrics[m] for m in METRICS},
        "best_epoch": -1,
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


def table1_markdown(table: list[dict]) -> str:
    lines = [
        "| model | tiles | folds | precision | recall | F1 | IoU | params (M) | epochs |"
        " train+val (h) | device |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for t in table:
        cells = [f"{t[f'{m}_mean']:.3f} ± {t[f'{m}_std']:.3f}" for m in METRICS]
        lines.append(
            f"| {t['model']} | {t['size']} | {t['folds']} | {' | '.join(cells)} |"
            f" {t['parameters_m']} | {t['epochs']} | {t['train_val_hours']} | {t['device']} |"
        )
    return "\n".join(lines) + "\n"
