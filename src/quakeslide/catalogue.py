"""The names a user chooses from: model architectures and loss terms.

Torch-free, so that options are checked, and the command line's help is built, without
loading torch; `models` maps each name to its network and `models.losses` to its loss.
"""

from __future__ import annotations

from dataclasses import dataclass

from quakeslide.errors import InputError


@dataclass(frozen=True)
class ModelEntry:
    """An architecture, the parameter count the paper reports for it (None: not one of the
    paper's networks) and whether ImageNet weights ship for its encoder."""

    name: str
    paper_params_m: float | None
    description: str
    imagenet_weights: bool = False


MODEL_CATALOGUE: dict[str, ModelEntry] = {
    entry.name: entry
    for entry in (
        ModelEntry(
            "unet", 34.5,
            "U-Net (Ronneberger et al. 2015), 'same' padding, BatchNorm, widths 64-1024",
        ),
        ModelEntry(
            "linknet", 13.4, "LinkNet (Chaurasia & Culurciello 2017) with a ResNet-18 encoder"
        ),
        ModelEntry(
            "lite0-linknet", None,
            "LinkNet decoder on an EfficientNet-Lite0 encoder (ImageNet start)",
            imagenet_weights=True,
        ),
        ModelEntry(
            "lite0-unet", None,
            "U-Net decoder on an EfficientNet-Lite0 encoder (ImageNet start)",
            imagenet_weights=True,
        ),
    )
}  # fmt: skip


def model_names() -> list[str]:
    return list(MODEL_CATALOGUE)


def check_model_name(name: str) -> str:
    """`name` in lower case if it is a known architecture; else an InputError naming them."""
    if name.lower() not in MODEL_CATALOGUE:
        raise InputError(f"unknown model {name!r}; known models: {', '.join(model_names())}")
    return name.lower()


def has_imagenet_weights(name: str) -> bool:
    """Whether `name`'s encoder can start from ImageNet weights."""
    return MODEL_CATALOGUE[name.lower()].imagenet_weights


LOSS_TERMS: tuple[str, ...] = ("ce", "dice", "lovasz", "focal")


def check_loss_name(name: str) -> str:
    """`name` if every term is known and none repeats; else an InputError naming it."""
    terms = name.split("+")
    if not name or set(terms) - set(LOSS_TERMS) or len(set(terms)) < len(terms):
        raise InputError(
            f"loss {name!r}: use one of {', '.join(LOSS_TERMS)} or several joined by +"
            " (each once), e.g. ce+dice"
        )
    return name
