"""Pixel-level confusion counts and the paper's metrics for the landslide class."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from quakeslide.classes import IGNORE, LANDSLIDE


@dataclass(frozen=True)
class Confusion:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @classmethod
    def from_arrays(cls, predicted: np.ndarray, truth: np.ndarray) -> Confusion:
        """Counts over pixels where truth is not ignore (255); landslide = 1."""
        valid = truth != IGNORE
        pred = predicted[valid].astype(bool)
        true = truth[valid] == LANDSLIDE
        return cls(
            tp=int(np.count_nonzero(pred & true)),
            fp=int(np.count_nonzero(pred & ~true)),
            fn=int(np.count_nonzero(~pred & true)),
            tn=int(np.count_nonzero(~pred & ~true)),
        )

    def __add__(self, other: Confusion) -> Confusion:
        return Confusion(*(a + b for a, b in zip(self.counts(), other.counts(), strict=True)))

    def counts(self) -> tuple[int, int, int, int]:
        return self.tp, self.fp, self.fn, self.tn

    def fraction(self, metric: str) -> tuple[int, int]:
        """(numerator, denominator) of a metric: the one definition of each."""
        tp, fp, fn, tn = self.counts()
        return {
            "precision": (tp, tp + fp),
            "recall": (tp, tp + fn),
            "f1": (2 * tp, 2 * tp + fp + fn),
            "iou": (tp, tp + fp + fn),
            "accuracy": (tp + tn, tp + fp + fn + tn),
        }[metric]

    def defined(self, metric: str) -> float:
        """The metric, or NaN where its denominator is empty (e.g. F1 of a tile with
        neither true nor predicted landslide), so per-tile means skip it instead of a 0."""
        numerator, denominator = self.fraction(metric)
        return numerator / denominator if denominator else math.nan

    @property
    def precision(self) -> float:
        return _ratio(*self.fraction("precision"))

    @property
    def recall(self) -> float:
        return _ratio(*self.fraction("recall"))

    @property
    def f1(self) -> float:
        return _ratio(*self.fraction("f1"))

    @property
    def iou(self) -> float:
        return _ratio(*self.fraction("iou"))

    @property
    def accuracy(self) -> float:
        return _ratio(*self.fraction("accuracy"))

    def metrics(self) -> dict[str, float | int]:
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "iou": self.iou,
            "accuracy": self.accuracy,
            **asdict(self),
        }


def _ratio(numerator: int, denominator: int) -> float:
    """0 when the denominator is 0: no prediction and no truth scores nothing, not NaN."""
    return numerator / denominator if denominator else 0.0
