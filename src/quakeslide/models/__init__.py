"""Segmentation models and a registry to build them by name."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from quakeslide.errors import InputError
from quakeslide.models.base import SegmentationNet
from quakeslide.models.linknet import LinkNet
from quakeslide.models.lite_nets import LiteLinkNet, LiteSegmenter, LiteUNet
from quakeslide.models.unet import UNet


@dataclass(frozen=True)
class ModelInfo:
    """A registered architecture and the parameter count the paper reports for it (None:
    not one of the paper's networks)."""

    name: str
    cls: type[SegmentationNet]
    paper_params_m: float | None
    description: str

    @property
    def has_imagenet_weights(self) -> bool:
        return issubclass(self.cls, LiteSegmenter)


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
    "lite0-linknet": ModelInfo(
        name="lite0-linknet",
        cls=LiteLinkNet,
        paper_params_m=None,
        description="LinkNet decoder on an EfficientNet-Lite0 encoder (ImageNet start)",
    ),
    "lite0-unet": ModelInfo(
        name="lite0-unet",
        cls=LiteUNet,
        paper_params_m=None,
        description="U-Net decoder on an EfficientNet-Lite0 encoder (ImageNet start)",
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


def has_imagenet_weights(name: str) -> bool:
    """Whether `name`'s encoder can start from ImageNet weights."""
    return MODELS[name.lower()].has_imagenet_weights


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = [
    "MODELS",
    "LinkNet",
    "LiteLinkNet",
    "LiteSegmenter",
    "LiteUNet",
    "ModelInfo",
    "SegmentationNet",
    "UNet",
    "build_model",
    "count_parameters",
    "has_imagenet_weights",
    "model_names",
]
