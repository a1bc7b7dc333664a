"""The model file format: a state dict plus metadata under one key, loaded weights-only.

A checkpoint is a dict with ``state_dict`` (``net.``-prefixed weights of a
:class:`NormalizedNet`, as Lightning saves the module holding it) and, under
``CHECKPOINT_KEY``, the architecture name, input normalisation (training statistics),
tile size and class names. Lightning's checkpoints add optimiser state beside them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from quakeslide.classes import CLASS_NAMES
from quakeslide.errors import InputError, first_line
from quakeslide.models import build_model

CHECKPOINT_KEY = "quakeslide"
CHECKPOINT_FORMAT = 1
STATE_PREFIX = "net."  # the attribute holding the NormalizedNet in the training module


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


def checkpoint_metadata(
    model: str,
    mean: list[float],
    std: list[float],
    tile_size: int,
    classes: tuple[str, ...] | list[str] = CLASS_NAMES,
    threshold: float | None = None,
    pixel_size_m: float | None = None,
    parent: dict[str, str] | None = None,
    encoder_weights: str | None = None,
) -> dict[str, Any]:
    """The metadata stored under ``CHECKPOINT_KEY``.

    `threshold`: the F1-best probability threshold on the validation tiles, when known;
    `pixel_size_m`: metres per pixel of the training tiles, when they are georeferenced;
    `parent`: the checkpoint a fine-tuned model started from (path and sha256);
    `encoder_weights`: "imagenet" when the encoder started from ImageNet weights (`mean`
    and `std` are then the normalisation those weights expect, not the tiles' statistics).
    """
    meta = {
        "format": CHECKPOINT_FORMAT,
        "model": model,
        "mean": list(mean),
        "std": list(std),
        "tile_size": tile_size,
        "classes": list(classes),
    }
    if threshold is not None:
        meta["threshold"] = threshold
    if pixel_size_m is not None:
        meta["pixel_size_m"] = pixel_size_m
    if parent is not None:
        meta["parent"] = parent
    if encoder_weights is not None:
        meta["encoder_weights"] = encoder_weights
    return meta


def landslide_classes(meta: dict[str, Any], source: str) -> list[str]:
    """The checkpoint's class names, which must be background / landslide (else InputError)."""
    classes = list(meta.get("classes", CLASS_NAMES))
    if len(classes) != len(CLASS_NAMES):
        raise InputError(f"{source}: a model of {classes}, not landslide / background")
    return classes


def save_net(net: NormalizedNet, metadata: dict[str, Any], path: Path) -> Path:
    """Write a weights-only checkpoint that :func:`load_net` reads (no optimiser state)."""
    state = {STATE_PREFIX + k: v for k, v in net.state_dict().items()}
    torch.save({"state_dict": state, CHECKPOINT_KEY: metadata}, path)
    return path


def load_net(checkpoint: Path, map_location: str = "cpu") -> tuple[NormalizedNet, dict]:
    """Rebuild the trained net from a checkpoint with torch.load(weights_only=True)."""
    try:
        payload = torch.load(checkpoint, map_location=map_location, weights_only=True)
    except FileNotFoundError as err:
        raise InputError(f"{checkpoint}: checkpoint not found") from err
    except Exception as err:  # truncated zip, pickle refused, ...
        raise InputError(f"{checkpoint}: not a readable checkpoint ({first_line(err)})") from None
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get(CHECKPOINT_KEY), dict)
        or not isinstance(payload.get("state_dict"), dict)
    ):
        raise InputError(f"{checkpoint}: not a quakeslide checkpoint")
    meta = payload[CHECKPOINT_KEY]
    missing = [key for key in ("model", "mean", "std") if key not in meta]
    if missing:
        raise InputError(f"{checkpoint}: its metadata lacks {', '.join(missing)}")
    try:
        net = NormalizedNet(meta["model"], meta["mean"], meta["std"])
    except (KeyError, ValueError, TypeError) as err:
        raise InputError(f"{checkpoint}: metadata names no known model ({err})") from None
    state = {
        k[len(STATE_PREFIX) :]: v
        for k, v in payload["state_dict"].items()
        if k.startswith(STATE_PREFIX)
    }
    try:
        net.load_state_dict(state)
    except RuntimeError as err:  # weights of another architecture, or none at all
        problem = "holds no weights" if not state else f"weights do not fit a {meta['model']}"
        raise InputError(f"{checkpoint}: {problem} ({first_line(err)})") from None
    return net.eval(), meta
