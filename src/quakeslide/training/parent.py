"""Fine-tuning: a run that starts from an earlier model's weights (`train --init`).

The parent fixes the architecture, bands and classes; the optimiser and schedule start
fresh. Its path and sha256 are recorded in the run's summary and in every checkpoint, so
predict and evaluate can show where a model came from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from quakeslide.errors import InputError
from quakeslide.models.checkpoint import NormalizedNet, landslide_classes, load_net
from quakeslide.options import named


@dataclass(frozen=True)
class Parent:
    path: Path
    sha256: str
    net: NormalizedNet
    meta: dict

    def record(self) -> dict[str, str]:
        return {"path": str(self.path), "sha256": self.sha256}


def load_parent(path: Path, model: str | None) -> Parent:
    """The checkpoint to start from; InputError where it cannot serve this run (read before
    any tile, so a wrong file or --model costs nothing; `check_bands` once tiles are read).

    `model`: the architecture the user asked for explicitly (None: take the parent's).
    """
    path = Path(path)
    net, meta = load_net(path)
    if model is not None and model != meta["model"]:
        raise InputError(
            f"{named('init')} {path}: a {meta['model']} checkpoint, but {named('model')} {model};"
            f" leave {named('model')} out (the parent fixes the architecture)"
        )
    landslide_classes(meta, f"{named('init')} {path}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Parent(path, digest, net, meta)


def check_bands(parent: Parent, bands: int) -> None:
    """InputError where the parent takes another number of bands than the dataset has."""
    if len(parent.meta["mean"]) != bands:
        raise InputError(
            f"{named('init')} {parent.path}: a model of {len(parent.meta['mean'])} band(s),"
            f" the dataset has {bands}"
        )


def start_from(net: NormalizedNet, parent: Parent, keep_own_normalization: bool) -> None:
    """Copy the parent's weights into `net`; with `keep_own_normalization` the input
    mean / std stay `net`'s (the new dataset's statistics)."""
    state = parent.net.state_dict()
    if keep_own_normalization:
        state = {k: v for k, v in state.items() if k not in ("mean", "std")}
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert not unexpected and set(missing) <= {"mean", "std"}, (missing, unexpected)


def encoder_of(net: NormalizedNet, option: str = "freeze encoder") -> list[torch.nn.Module]:
    """The encoder modules of `net`; InputError naming `option` for an architecture
    without a split."""
    modules = net.net.encoder_modules()
    if not modules:
        raise InputError(f"{option}: {type(net.net).__name__} has no encoder / decoder split")
    return modules


def frozen_part(net: NormalizedNet, freeze: str) -> list[torch.nn.Module]:
    """The modules `--freeze` holds: the encoder, every batch norm (its scale, shift and
    statistics stay the parent's: batches of 5 tiles of a new event move them a lot), or
    nothing."""
    if freeze == "encoder":
        return encoder_of(net)
    if freeze == "batchnorm":
        return [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    return []


def freeze(modules: list[torch.nn.Module]) -> None:
    """No gradient for these weights; their batch-norm statistics stay too (see `hold`)."""
    for module in modules:
        module.requires_grad_(False)


def hold(modules: list[torch.nn.Module]) -> None:
    """Keep frozen modules in eval mode, so batch norm neither uses nor updates batch stats."""
    for module in modules:
        module.eval()
