"""Train one model on a dataset folder and write a run folder (DESIGN.md contract)."""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from torch.utils.data import DataLoader

from quakeslide.config import TrainConfig
from quakeslide.data.dataset import TileDataset, list_stems
from quakeslide.device import configure_cpu_threads, plan_compute
from quakeslide.errors import InputError
from quakeslide.io.raster import atomic_path
from quakeslide.models import count_parameters
from quakeslide.training.module import LandslideSegmenter

METRIC_FIELDS = [
    "epoch",
    "loss",
    "val_loss",
    "val_precision",
    "val_recall",
    "val_f1",
    "val_iou",
    "lr",
    "seconds",
]


@dataclass(frozen=True)
class RunResult:
    run: Path
    best_checkpoint: Path
    summary: dict


class EpochCsv(Callback):
    """Append one row per epoch to metrics.csv: mean training loss and validation metrics.

    Written at train-epoch end, which Lightning calls after that epoch's validation.
    """

    def __init__(self, path: Path):
        self.path = path
        self.started = time.perf_counter()
        self.loss_sum, self.loss_count = 0.0, 0

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.loss_sum += float(outputs["loss"])
        self.loss_count += 1

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        loss = self.loss_sum / max(self.loss_count, 1)
        self.loss_sum, self.loss_count = 0.0, 0
        if not trainer.is_global_zero:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        row = {
            "epoch": trainer.current_epoch,
            "loss": loss,
            **{k: metrics.get(k, float("nan")) for k in METRIC_FIELDS[2:7]},
            "lr": trainer.optimizers[0].param_groups[0]["lr"],
            "seconds": round(time.perf_counter() - self.started, 2),
        }
        new = not self.path.exists()
        with open(self.path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=METRIC_FIELDS)
            if new:
                writer.writeheader()
            writer.writerow(row)


def split_stems(dataset: Path, config: TrainConfig) -> tuple[list[str], list[str]]:
    """Training and validation stems: from split lists, else a seeded random hold-out."""
    if config.train_split or config.val_split:
        train = list_stems(dataset, config.train_split) if config.train_split else None
        val = list_stems(dataset, config.val_split) if config.val_split else []
        if train is None:
            held = set(val)
            train = [s for s in list_stems(dataset) if s not in held]
        return train, val
    stems = list_stems(dataset)
    order = np.random.default_rng(config.seed).permutation(len(stems))
    n_val = max(1, round(len(stems) * config.val_fraction))
    return [stems[i] for i in order[n_val:]], [stems[i] for i in order[:n_val]]


def train(dataset: Path, out: Path, config: TrainConfig) -> RunResult:
    dataset, out = Path(dataset), Path(out)
    train_stems, val_stems = split_stems(dataset, config)
    if not train_stems or not val_stems:
        raise InputError(f"{dataset}: need at least one training and one validation tile")
    L.seed_everything(config.seed, workers=True, verbose=False)
    configure_cpu_threads()
    plan = plan_compute(config.device, config.precision)
    train_set = TileDataset(dataset, train_stems, augment=True, seed=config.seed)
    val_set = TileDataset(dataset, val_stems)
    mean, std = train_set.channel_stats()
    module = LandslideSegmenter(
        config.model,
        mean,
        std,
        tile_size=int(train_set.images[0].shape[-1]),
        lr=config.lr,
        betas=config.betas,
        step_size=config.step_size,
        gamma=config.gamma,
    )
    out.mkdir(parents=True, exist_ok=True)
    config.to_yaml(out / "config.yaml")
    (out / "metrics.csv").unlink(missing_ok=True)
    checkpoints = ModelCheckpoint(
        dirpath=out / "checkpoints",
        filename="best",
        monitor="val_f1",
        mode="max",
        save_last=True,
        enable_version_counter=False,
    )
    trainer = L.Trainer(
        max_epochs=config.epochs,
        accelerator=plan.accelerator,
        devices=1,
        precision=plan.precision,
        logger=False,
        callbacks=[checkpoints, EpochCsv(out / "metrics.csv")],
        num_sanity_val_steps=0,
        deterministic=plan.device == "cpu",
        enable_model_summary=False,
    )
    started = time.perf_counter()
    trainer.fit(
        module,
        DataLoader(
            train_set,
            batch_size=config.batch_size,
            shuffle=True,
            drop_last=len(train_set) > config.batch_size,
        ),
        DataLoader(val_set, batch_size=config.batch_size * 2),
    )
    wall = time.perf_counter() - started
    summary = {
        "model": config.model,
        "parameters": count_parameters(module.net.net),
        "train_tiles": len(train_stems),
        "val_tiles": len(val_stems),
        "epochs": trainer.current_epoch,
        "best_val_f1": float(checkpoints.best_model_score or 0.0),
        "final": {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val_")},
        "wall_seconds": round(wall, 1),
        "device": plan.device,
        "precision": plan.precision,
        "precision_reason": plan.reason,
        "torch": torch.__version__,
    }
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    return RunResult(out, Path(checkpoints.best_model_path), summary)
