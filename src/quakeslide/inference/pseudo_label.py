"""A model (or ensemble) labels unlabelled tiles: the `pseudo-label` command and `study
--self-train`."""

from __future__ import annotations

from pathlib import Path

from quakeslide.data.dataset import list_stems
from quakeslide.data.pseudo_labels import PseudoLabels, check_confidence, write_pseudo_labelled
from quakeslide.device import ComputePlan
from quakeslide.inference.ensemble import load_models
from quakeslide.inference.tta import check_tta_name, with_tta


def pseudo_label(
    model: Path | str,
    dataset: Path,
    out: Path,
    plan: ComputePlan,
    split: str,
    labelled_split: str | None = None,
    low: float = 0.3,
    high: float = 0.7,
    tta: str = "flip",
) -> PseudoLabels:
    """`dataset` with the tiles of `<split>.txt` pseudo-labelled by `model`, written to `out`."""
    unlabelled = list_stems(dataset, split)
    labelled = list_stems(dataset, labelled_split) if labelled_split else None
    record = {"split": split}
    return label_tiles(model, dataset, unlabelled, out, plan, labelled, low, high, tta, record)


def label_tiles(
    model: Path | str,
    dataset: Path,
    unlabelled: list[str],
    out: Path,
    plan: ComputePlan,
    labelled: list[str] | None = None,
    low: float = 0.3,
    high: float = 0.7,
    tta: str = "flip",
    record: dict | None = None,
) -> PseudoLabels:
    """`dataset` with the tiles `unlabelled` pseudo-labelled by `model`, written to `out`."""
    check_tta_name(tta)
    check_confidence(low, high)  # before the model loads
    engine, name = load_models(model, plan)
    record = {"model": str(model), "architecture": name, "tta": tta, **(record or {})}
    probability = with_tta(engine, tta).predict
    return write_pseudo_labelled(dataset, unlabelled, probability, out, low, high, labelled, record)
