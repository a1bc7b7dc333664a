"""LightningModule: the paper's loss, optimiser and schedule, with landslide-class metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import nn

from quakeslide.errors import InputError
from quakeslide.evaluation.pixel import Confusion
from quakeslide.io.mask_labels import IGNORE as IGNORE_INDEX
from quakeslide.models import build_model
from quakeslide.training.optimizer import make_adam

CHECKPOINT_KEY = "quakeslide"
CHECKPOINT_FORMAT = 1


class NormalizedNet(nn.Module):
    """A segmentation net with its input normalisation (training statistics) built in."""

    def __init__(self, model: str, mean: list[float], std: list[float], **model_kwargs: Any):
        super().__init__()
        self.net = build_model(model, in_channels=len(mean), **model_kwargs)
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """image: (N, C, H, W) in [0, 1] -> logits (N, classes, H, W)."""
        return self.net((image - self.mean) / self.std)


class LandslideSegmenter(L.LightningModule):
    def __init__(
        self,
        model: str,
        mean: list[float],
        std: list[float],
        tile_size: int,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        step_size: int = 30,
        gamma: float = 0.1,
        channels_last: bool = False,
    ):
        super().__init__()
        self.save_hyperparameters(ignore=["channels_last"])
        self.layout = torch.channels_last if channels_last else torch.contiguous_format
        self.net = NormalizedNet(model, mean, std)
        self.loss = nn.CrossEntropyLoss(ignore_index=IGNORE_INDEX)
        self.register_buffer("val_counts", torch.zeros(4, dtype=torch.long), persistent=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image.contiguous(memory_format=self.layout))

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

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> None:
        image, mask = batch
        logits = self(image)
        self.log("val_loss", self.loss(logits, mask), batch_size=len(image), sync_dist=True)
        predicted = logits.argmax(1) == 1
        valid = mask != IGNORE_INDEX
        true = mask == 1
        self.val_counts += torch.stack(
            [
                (predicted & true & valid).sum(),
                (predicted & ~true & valid).sum(),
                (~predicted & true & valid).sum(),
                (~predicted & ~true & valid).sum(),
            ]
        )

    def on_validation_epoch_end(self) -> None:
        counts = self.trainer.strategy.reduce(self.val_counts.clone(), reduce_op="sum")
        confusion = Confusion(*(int(c) for c in counts))
        self.val_counts.zero_()
        for name in ("precision", "recall", "f1", "iou"):
            # already summed over ranks: sync_dist only averages equal values
            self.log(f"val_{name}", getattr(confusion, name), prog_bar=name == "f1", sync_dist=True)

    def configure_optimizers(self):
        hp = self.hparams
        optimizer = make_adam(self.parameters(), hp.lr, tuple(hp.betas))
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, hp.step_size, hp.gamma)
        return {"optimizer": optimizer, "lr_scheduler": scheduler}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        hp = self.hparams
        checkpoint[CHECKPOINT_KEY] = {
            "format": CHECKPOINT_FORMAT,
            "model": hp.model,
            "mean": list(hp.mean),
            "std": list(hp.std),
            "tile_size": hp.tile_size,
            "classes": ["background", "landslide"],
        }


def load_net(checkpoint: Path, map_location: str = "cpu") -> tuple[NormalizedNet, dict]:
    """Rebuild the trained net from a checkpoint with torch.load(weights_only=True)."""
    try:
        payload = torch.load(checkpoint, map_location=map_location, weights_only=True)
    except FileNotFoundError as err:
        raise InputError(f"{checkpoint}: checkpoint not found") from err
    except Exception as err:  # truncated zip, pickle refused, ...
        raise InputError(f"{checkpoint}: not a readable checkpoint ({err})") from err
    if (
        not isinstance(payload, dict)
        or CHECKPOINT_KEY not in payload
        or "state_dict" not in payload
    ):
        raise InputError(f"{checkpoint}: not a quakeslide checkpoint")
    meta = payload[CHECKPOINT_KEY]
    net = NormalizedNet(meta["model"], meta["mean"], meta["std"])
    prefix = "net."
    state = {k[len(prefix) :]: v for k, v in payload["state_dict"].items() if k.startswith(prefix)}
    net.load_state_dict(state)
    return net.eval(), meta
