"""Segmentation models and a registry to build them by name."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from quakeslide.catalogue import (
    MODEL_CATALOGUE,
    ModelEntry,
    check_model_name,
    has_imagenet_weights,
    model_names,
)
from quakeslide.models.base import SegmentationNet
from quakeslide.models.linknet import LinkNet
from quakeslide.models.lite_nets import LiteLinkNet, LiteSegmenter, LiteUNet
from quakeslide.models.unet import UNet


@dataclass(frozen=True)
class ModelInfo:
    """A registered architecture: its catalogue entry (name, the paper's parameter count,
    description) and the class that builds it."""

    entry: ModelEntry
    cls: type[SegmentationNet]

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def paper_params_m(self) -> float | None:
        return self.entry.paper_params_m

    @property
    def description(self) -> str:
        return self.entry.description

    @property
    def has_imagenet_weights(self) -> bool:
        return self.entry.imagenet_weights


_CLASSES: dict[str, type[SegmentationNet]] = {
    "unet": UNet,
    "linknet": LinkNet,
    "lite0-linknet": LiteLinkNet,
    "lite0-unet": LiteUNet,
}
MODELS: dict[str, ModelInfo] = {
    name: ModelInfo(entry, _CLASSES[name]) for name, entry in MODEL_CATALOGUE.items()
}


def build_model(name: str, **kwargs: object) -> SegmentationNet:
    """Instantiate a registered model; ``kwargs`` go to its constructor."""
    return MODELS[check_model_name(name)].cls(**kwargs)


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
