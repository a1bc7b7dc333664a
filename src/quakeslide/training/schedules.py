"""Learning-rate schedules, as Lightning's scheduler configs; the paper's is StepLR.

`step` and `cosine` change the rate once per epoch, `onecycle` every optimiser step.
A warm-up, where asked for, rises linearly to the base rate over its first epochs.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch
from torch.optim.lr_scheduler import LambdaLR, OneCycleLR, StepLR

ONECYCLE_DEFAULT_WARMUP = 0.3  # torch's pct_start, when no warm-up is given


def warmup_factor(epoch: int, warmup_epochs: int) -> float:
    """1/(w+1), 2/(w+1), ... over the w warm-up epochs, then 1."""
    return (epoch + 1) / (warmup_epochs + 1) if epoch < warmup_epochs else 1.0


def step_factor(epoch: int, warmup_epochs: int, step_size: int, gamma: float) -> float:
    return warmup_factor(epoch, warmup_epochs) * gamma ** (epoch // step_size)


def cosine_factor(epoch: int, warmup_epochs: int, epochs: int) -> float:
    """Warm-up, then half a cosine from 1 down to 0 at the last epoch's end."""
    if epoch < warmup_epochs:
        return warmup_factor(epoch, warmup_epochs)
    progress = (epoch - warmup_epochs) / max(epochs - warmup_epochs, 1)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def make_schedule(
    optimizer: torch.optim.Optimizer,
    name: str,
    epochs: int,
    total_steps: int,
    step_size: int = 30,
    gamma: float = 0.1,
    warmup_epochs: int = 0,
) -> dict[str, Any]:
    """The Lightning `lr_scheduler` entry for schedule `name`; `total_steps`: one-cycle's."""
    if name == "step" and warmup_epochs == 0:
        return {"scheduler": StepLR(optimizer, step_size, gamma), "interval": "epoch"}
    if name == "step":
        factor = functools.partial(
            step_factor, warmup_epochs=warmup_epochs, step_size=step_size, gamma=gamma
        )
        return {"scheduler": LambdaLR(optimizer, factor), "interval": "epoch"}
    if name == "cosine":
        factor = functools.partial(cosine_factor, warmup_epochs=warmup_epochs, epochs=epochs)
        return {"scheduler": LambdaLR(optimizer, factor), "interval": "epoch"}
    if name == "onecycle":
        rise = warmup_epochs / epochs if warmup_epochs else ONECYCLE_DEFAULT_WARMUP
        max_lr = [group["lr"] for group in optimizer.param_groups]
        scheduler = OneCycleLR(optimizer, max_lr, total_steps=total_steps, pct_start=rise)
        return {"scheduler": scheduler, "interval": "step"}
    raise ValueError(f"unknown schedule {name!r}")  # TrainConfig admits only the above
