"""How unsure a model is of each pixel, two ways (what `suggest` and `selection-study` rank
windows by).

`entropy`: the binary entropy of the probability; high wherever the model says about 0.5,
whether because the ground is ambiguous or because the model has not learnt it.
`disagreement`: the mutual information between the prediction and the view of the window
(its eight mirrored / rotated views, as `--tta d4`), and the member that made it where the
model is an ensemble: the entropy of the mean probability less the mean of the
predictions' entropies. It is high only where the predictions disagree, that is where the
answer depends on how the window is turned or which member is asked, not where every one
says 0.5: the share of the uncertainty that more labels can remove (BALD, Houlsby et al.
2011, with views and members in place of weight samples).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from quakeslide.inference.engines import Engine
from quakeslide.inference.tta import TTA_VIEWS

Measure = Literal["entropy", "disagreement"]


def binary_entropy(probability: np.ndarray) -> np.ndarray:
    """Bits of uncertainty of each pixel: 1 at probability 0.5, 0 at 0 or 1."""
    p = np.clip(probability.astype(np.float64), 1e-6, 1 - 1e-6)
    return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))


def measure_for(strategy: str) -> Measure:
    """The measure a ranking strategy uses (`random` reports entropy, ranks by nothing)."""
    return "disagreement" if strategy == "disagreement" else "entropy"


def disagreement(engine: Engine, batch: np.ndarray) -> np.ndarray:
    """(N, C, H, W) windows -> (N, H, W) bits: mutual information between the probability
    and the D4 view, and the ensemble member (0 where all predictions agree)."""
    predictions = [
        view.undo(model.predict(np.ascontiguousarray(view.apply(batch))))
        for model in engine.members or (engine,)
        for view in TTA_VIEWS["d4"]
    ]
    mean_entropy = sum(binary_entropy(p) for p in predictions) / len(predictions)
    gain = binary_entropy(sum(predictions) / len(predictions)) - mean_entropy
    return np.maximum(gain, 0.0)  # >= 0 in exact arithmetic; rounding can dip below


def pixel_uncertainty(
    engine: Engine, measure: Measure, batch: np.ndarray, probability: np.ndarray | None = None
) -> np.ndarray:
    """(N, C, H, W) windows -> (N, H, W) bits of `measure`; `probability`: the engine's
    prediction of `batch` where the caller has it (entropy then needs no other pass)."""
    if measure == "disagreement":
        return disagreement(engine, batch)
    return binary_entropy(engine.predict(batch) if probability is None else probability)
