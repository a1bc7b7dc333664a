"""How unsure a model is of each pixel, two ways (what `suggest` and `selection-study` rank
windows by).

`entropy`: the binary entropy of the probability; high wherever the model says about 0.5,
whether because the ground is ambiguous or because the model has not learnt it.
`disagreement`: the mutual information between the prediction and the view of the window
(its eight mirrored / rotated views, as `--tta d4`): the entropy of the mean probability
less the mean of the views' entropies. It is high only where the views disagree, that is
where the model's answer depends on how the window is turned, not where every view says
0.5: the share of the uncertainty that more labels can remove (BALD, Houlsby et al. 2011,
with views in place of weight samples).
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


def view_disagreement(engine: Engine, batch: np.ndarray) -> np.ndarray:
    """(N, C, H, W) windows -> (N, H, W) bits: mutual information between the
    probability and the D4 view (0 where all views agree)."""
    views = TTA_VIEWS["d4"]
    probabilities = np.stack(
        [view.undo(engine.predict(np.ascontiguousarray(view.apply(batch)))) for view in views]
    )
    gain = binary_entropy(probabilities.mean(axis=0)) - binary_entropy(probabilities).mean(axis=0)
    return np.maximum(gain, 0.0)  # >= 0 in exact arithmetic; rounding can dip below


def pixel_uncertainty(
    engine: Engine, measure: Measure, batch: np.ndarray, probability: np.ndarray | None = None
) -> np.ndarray:
    """(N, C, H, W) windows -> (N, H, W) bits of `measure`; `probability`: the engine's
    prediction of `batch` where the caller has it (entropy then needs no other pass)."""
    if measure == "disagreement":
        return view_disagreement(engine, batch)
    return binary_entropy(engine.predict(batch) if probability is None else probability)
