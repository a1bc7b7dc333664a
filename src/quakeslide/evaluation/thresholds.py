"""Threshold sweep: pixel precision-recall over every threshold from one pass of the data.

Probabilities of true-landslide and background pixels are counted in fine histograms, so
the curve needs no second prediction and costs O(bins) memory whatever the dataset size.
"""

from __future__ import annotations

import numpy as np

BINS = 1000  # threshold step 0.001


class ThresholdSweep:
    def __init__(self) -> None:
        self.positive = np.zeros(BINS, np.int64)
        self.negative = np.zeros(BINS, np.int64)

    @classmethod
    def from_histograms(cls, positive: np.ndarray, negative: np.ndarray) -> ThresholdSweep:
        """A sweep from counts made elsewhere (training's validation, on the device)."""
        sweep = cls()
        sweep.positive[:], sweep.negative[:] = positive, negative
        return sweep

    def add(self, probability: np.ndarray, truth: np.ndarray) -> None:
        """probability float in [0, 1]; truth 0 / 1 / 255 (ignored)."""
        bins = np.minimum((probability * BINS).astype(np.int64), BINS - 1)
        self.positive += np.bincount(bins[truth == 1], minlength=BINS)
        self.negative += np.bincount(bins[truth == 0], minlength=BINS)

    def curve(self) -> dict[str, np.ndarray]:
        """Precision, recall and F1 when landslide = probability >= threshold."""
        thresholds = np.arange(1, BINS) / BINS
        tp = np.cumsum(self.positive[::-1])[::-1][1:]  # pixels in bins >= k
        fp = np.cumsum(self.negative[::-1])[::-1][1:]
        fn = self.positive.sum() - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(tp + fp > 0, tp / (tp + fp), 1.0)
            recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
            f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
        return {"threshold": thresholds, "precision": precision, "recall": recall, "f1": f1}

    def best(self) -> dict[str, float]:
        """The F1-best threshold (reported for the user to choose, never applied silently)."""
        curve = self.curve()
        k = int(np.argmax(curve["f1"]))
        return {name: float(values[k]) for name, values in curve.items()}
