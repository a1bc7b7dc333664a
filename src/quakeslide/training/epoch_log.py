"""metrics.csv: one row per epoch, kept consistent across stops and resumes."""

from __future__ import annotations

import csv
import logging
import math
import time

import lightning as L
from lightning.pytorch.callbacks import Callback

from quakeslide.folders import RunFolder

log = logging.getLogger(__name__)

METRIC_FIELDS = [
    "epoch",
    "loss",
    "val_loss",
    "val_precision",
    "val_recall",
    "val_f1",
    "val_iou",
    "val_threshold",
    "lr",
    "epoch_seconds",
]


def best_row(rows: list[dict[str, float]]) -> dict[str, float] | None:
    """The epoch with the highest validation F1 (the first one on ties), as best.ckpt keeps."""
    scored = [r for r in rows if not math.isnan(r["val_f1"])]
    return max(scored, key=lambda r: r["val_f1"]) if scored else None


class EpochCsv(Callback):
    """Append one row per epoch: mean training loss, validation metrics, seconds taken.

    Written at train-epoch end, which Lightning calls after that epoch's validation. At the
    start of a (resumed) fit, rows from the resumed epoch on are dropped: they belong to
    epochs that the resumed run trains again.
    """

    def __init__(self, run: RunFolder):
        self.run = run
        self.path = run.metrics
        self.started = time.perf_counter()
        self.loss_sum, self.loss_count = 0.0, 0

    def on_train_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            kept = [r for r in self.run.epoch_rows() if r["epoch"] < trainer.current_epoch]
            self._write(kept, mode="w")

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.started = time.perf_counter()
        self.loss_sum, self.loss_count = 0.0, 0

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.loss_sum += float(outputs["loss"])
        self.loss_count += 1

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        row = {
            "epoch": trainer.current_epoch,
            "loss": self.loss_sum / max(self.loss_count, 1),
            **{k: metrics.get(k, float("nan")) for k in METRIC_FIELDS[2:8]},
            "lr": trainer.optimizers[0].param_groups[0]["lr"],
            "epoch_seconds": round(time.perf_counter() - self.started, 2),
        }
        self._write([row], mode="a")
        # a line per epoch for log files (nohup), which the progress bar does not reach
        log.info(
            "epoch %d/%d: loss %.4f, val F1 %.4f, IoU %.4f (%.0f s)",
            row["epoch"] + 1, trainer.max_epochs, row["loss"], row["val_f1"], row["val_iou"],
            row["epoch_seconds"],
        )  # fmt: skip

    def _write(self, rows: list[dict], mode: str) -> None:
        header = mode == "w" or not self.path.exists()
        with open(self.path, mode, newline="") as f:
            writer = csv.DictWriter(f, fieldnames=METRIC_FIELDS)
            if header:
                writer.writeheader()
            for row in rows:
                writer.writerow({k: int(v) if k == "epoch" else v for k, v in row.items()})
