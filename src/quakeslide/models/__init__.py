"""Segmentation models and a registry to build them by name."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from quakeslide.errors import InputError
from quakeslide.models.base import SegmentationNet
from quakeslide.models.linknet import LinkNet
from quakeslide.models.unet import UNet


@dataclass(frozen=True)
class ModelInfo:
    """A registered architecture and the parameter count the paper reports for it."""

    name: str
    cls: type[SegmentationNet]
    paper_params_m: float
    description: str


MODELS: dict[str, ModelInfo] = {
    "unet": ModelInfo(
        name="unet",
        cls=UNet,
        paper_params_m=34.5,
        description="U-Net (Ronneberger et al. 2015), 'same' padding, BatchNorm, widths 64-1024",
    ),
    "linknet": ModelInfo(
        name="linknet",
        cls=LinkNet,
        paper_params_m=13.4,
        description="LinkNet (Chaurasia & Culurciello 2017) with a ResNet-18 encoder",
    ),
}


def model_names() -> list[str]:
    """Names accepted by :func:`build_model`."""
    return list(MODELS)


def build_model(name: str, **kwargs: object) -> SegmentationNet:
    """Instantiate a registered model; ``kwargs`` go to its constructor."""
    key = name.lower()
    if key not in MODELS:
        raise InputError(f"unknown model {name!r}; known models: {', '.join(model_names())}")
    return MODELS[key].cls(**kwargs)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = [
    "MODELS",
    "LinkNet",
    "ModelInfo",
    "SegmentationNet",
    "UNet",
    "build_model",
    "count_parameters",
    "model_names",
]
