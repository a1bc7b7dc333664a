"""A model (or ensemble) labels unlabelled tiles: the `pseudo-label` command and `study
--self-train`."""

from __future__ import annotations

from pathlib import Path

from quakeslide.data.dataset import list_stems
from quakeslide.data.pseudo_dataset import PseudoLabels, check_confidence, write_pseudo_labelled
from quakeslide.device import ComputePlan, configure_cpu_threads, plan_compute
from quakeslide.inference.ensemble import load_models
from quakeslide.inference.tta import with_tta
from quakeslide.options import PseudoLabelOptions, Tta


def pseudo_label(
    model: Path | str, dataset: Path, out: Path, options: PseudoLabelOptions
) -> PseudoLabels:
    """`dataset` with the tiles of `<split>.txt` pseudo-labelled by `model`, written to `out`."""
    o = options
    unlabelled = list_stems(dataset, o.split)
    labelled = list_stems(dataset, o.labelled_split) if o.labelled_split else None
    configure_cpu_threads()
    plan = plan_compute(o.device, o.precision)
    return label_tiles(
        model, dataset, unlabelled, out, plan, labelled, o.low, o.high, o.tta, {"split": o.split}
    )


def label_tiles(
    model: Path | str,
    dataset: Path,
    unlabelled: list[str],
    out: Path,
    plan: ComputePlan,
    labelled: list[str] | None = None,
    low: float = 0.3,
    high: float = 0.7,
    tta: Tta = "flip",
    record: dict | None = None,
) -> PseudoLabels:
    """`dataset` with the tiles `unlabelled` pseudo-labelled by `model`, written to `out`."""
    check_confidence(low, high)  # before the model loads
    engine, name = load_models(model, plan)
    record = {"model": str(model), "architecture": name, "tta": tta, **(record or {})}
    probability = with_tta(engine, tta).predict
    return write_pseudo_labelled(dataset, unlabelled, probability, out, low, high, labelled, record)
