"""LightningModule: loss, optimiser and schedule (the paper's by default), landslide metrics."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

from quakeslide.classes import IGNORE, LANDSLIDE
from quakeslide.config import TrainConfig
from quakeslide.evaluation.pixel import Confusion
from quakeslide.evaluation.thresholds import BINS, ThresholdSweep
from quakeslide.models.checkpoint import CHECKPOINT_KEY, NormalizedNet, checkpoint_metadata
from quakeslide.models.losses import make_loss
from quakeslide.training.optimizer import make_adam
from quakeslide.training.parent import encoder_of, frozen_part, hold
from quakeslide.training.parent import freeze as freeze_modules
from quakeslide.training.schedules import make_schedule


class LandslideSegmenter(L.LightningModule):
    """The net of `config.model` with `config`'s loss, optimiser and schedule; `mean` / `std`
    standardise its input, and go with `tile_size`, `pixel_size_m` and the `parent`'s
    record into every checkpoint's metadata."""

    def __init__(
        self,
        config: TrainConfig,
        mean: list[float],
        std: list[float],
        tile_size: int,
        *,
        channels_last: bool = False,
        pixel_size_m: float | None = None,
        parent: dict[str, str] | None = None,
    ):
        super().__init__()
        self.config = config
        self.metadata = {
            "model": config.model,
            "mean": mean,
            "std": std,
            "tile_size": tile_size,
            "pixel_size_m": pixel_size_m,
            "parent": parent,
            "encoder_weights": "imagenet" if config.starts_from_imagenet else None,
        }
        self.layout = torch.channels_last if channels_last else torch.contiguous_format
        self.net = NormalizedNet(config.model, mean, std)
        self.frozen = frozen_part(self.net, config.freeze)
        freeze_modules(self.frozen)
        scaled = config.encoder_lr_scale != 1.0
        self.encoder = encoder_of(self.net, "encoder_lr_scale") if scaled else []
        self.loss = make_loss(config.loss)
        # validation tallies: plain tensors, not buffers, so that weight averaging (--ema),
        # which swaps every buffer for its average around validation, leaves them alone
        self.val_counts = torch.zeros(4, dtype=torch.long)
        # probability histograms of landslide / background pixels, for the threshold sweep
        self.val_histograms = torch.zeros(2, BINS, dtype=torch.long)
        self.calibrated_threshold: float | None = None

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image.contiguous(memory_format=self.layout))

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        hold(self.frozen)  # Lightning sets train mode on every module at times of its own

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> torch.Tensor:
        image, mask = batch
        loss = self.loss(self(image), mask)
        self.log(
            "loss",
            loss,
            prog_bar=True,
            on_step=True,
            on_epoch=True,
            batch_size=len(image),
            sync_dist=True,
        )
        return loss

    def on_validation_epoch_start(self) -> None:
        self.val_counts = torch.zeros(4, dtype=torch.long, device=self.device)
        self.val_histograms = torch.zeros(2, BINS, dtype=torch.long, device=self.device)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> None:
        image, mask = batch
        logits = self(image)
        self.log("val_loss", self.loss(logits, mask), batch_size=len(image), sync_dist=True)
        predicted = logits.argmax(1) == LANDSLIDE
        valid = mask != IGNORE
        true = mask == LANDSLIDE
        self.val_counts += torch.stack(
            [
                (predicted & true & valid).sum(),
                (predicted & ~true & valid).sum(),
                (~predicted & true & valid).sum(),
                (~predicted & ~true & valid).sum(),
            ]
        )
        probability = torch.softmax(logits.float(), dim=1)[:, LANDSLIDE]
        bins = (probability * BINS).long().clamp_(max=BINS - 1)
        for row, pixels in enumerate((true & valid, ~true & valid)):
            self.val_histograms[row] += torch.bincount(bins[pixels], minlength=BINS)

    def on_validation_epoch_end(self) -> None:
        counts = self.trainer.strategy.reduce(self.val_counts.clone(), reduce_op="sum")
        confusion = Confusion(*(int(c) for c in counts))
        for name in ("precision", "recall", "f1", "iou"):
            # already summed over ranks: sync_dist only averages equal values
            self.log(f"val_{name}", getattr(confusion, name), prog_bar=name == "f1", sync_dist=True)
        histograms = self.trainer.strategy.reduce(self.val_histograms.clone(), reduce_op="sum")
        sweep = ThresholdSweep.from_histograms(*histograms.cpu().numpy())
        self.calibrated_threshold = sweep.best()["threshold"]
        self.log("val_threshold", self.calibrated_threshold, sync_dist=True)

    def configure_optimizers(self):
        hp = self.config
        optimizer = make_adam(
            self._parameter_groups(),
            hp.lr,
            tuple(hp.betas),
            hp.weight_decay,
            hp.optimizer == "adamw",
        )
        schedule = make_schedule(
            optimizer,
            hp.schedule,
            hp.epochs,
            # Lightning builds the train loader to count steps: only one-cycle needs them
            int(self.trainer.estimated_stepping_batches) if hp.schedule == "onecycle" else 0,
            hp.step_size,
            hp.gamma,
            hp.warmup_epochs,
        )
        return {"optimizer": optimizer, "lr_scheduler": schedule}

    def _parameter_groups(self) -> list[dict[str, Any]]:
        """The trained weights: one group at `lr`, or with `encoder_lr_scale` the encoder's
        apart at lr x scale (a fine-tuned encoder moving less from the parent's features).
        Schedules scale every group's rate alike."""
        encoder_ids = {id(p) for m in self.encoder for p in m.parameters()}
        trained = [p for p in self.parameters() if p.requires_grad]
        rest = [p for p in trained if id(p) not in encoder_ids]
        encoder = [p for p in trained if id(p) in encoder_ids]
        groups = [{"params": rest}]
        if encoder:
            scaled = self.config.lr * self.config.encoder_lr_scale
            groups.append({"params": encoder, "lr": scaled})
        return groups

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[CHECKPOINT_KEY] = checkpoint_metadata(
            **self.metadata, threshold=self.calibrated_threshold
        )
