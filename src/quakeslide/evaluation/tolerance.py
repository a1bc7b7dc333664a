"""Scores that forgive the drawing hand: pixels near a drawn outline left out.

Hand-drawn outlines are not exact to the pixel, so a model that finds every landslide
still disagrees with them along every outline. Leaving out the pixels within N px of an
outline (on both sides, from both the prediction and the truth) measures the map without
that disagreement; the exact scores stay the headline. Each pixel's confusion is counted by
its distance to the nearest outline, so one pass gives the scores at every N up to a limit.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from quakeslide.classes import IGNORE, LANDSLIDE
from quakeslide.evaluation.pixel import Confusion

CURVE_PIXELS = 8
"""The outline-tolerance curve runs from 0 to this many pixels (or the asked tolerance)."""


def outline_distance(truth: np.ndarray) -> np.ndarray:
    """Each pixel's Euclidean distance to the nearest outline between landslide and the rest
    (>= 1: a pixel next to the other class is 1 away); inf where the tile has no outline.

    The tile's own edge is no outline: a landslide cut by it is not bounded there.
    """
    landslide = truth == LANDSLIDE
    if landslide.all() or not landslide.any():
        return np.full(truth.shape, np.inf)
    inside = ndimage.distance_transform_edt(landslide)
    outside = ndimage.distance_transform_edt(~landslide)
    return np.where(landslide, inside, outside)


class OutlineCounts:
    """Confusion counts by distance to the nearest drawn outline, in whole pixels.

    Bin b holds the pixels with ceil(distance) == b (1..limit), the last bin everything
    farther; "within N px" (distance <= N) is then bins 1..N, for whole N.
    """

    def __init__(self, limit: int = CURVE_PIXELS) -> None:
        self.limit = limit
        self.counts = np.zeros((4, limit + 2), dtype=np.int64)  # tp, fp, fn, tn x bins

    def add(self, predicted: np.ndarray, truth: np.ndarray) -> None:
        valid = truth != IGNORE
        distance = np.ceil(np.minimum(outline_distance(truth), self.limit + 1)).astype(np.int64)
        bins = distance[valid]
        pred = predicted[valid].astype(bool)
        true = truth[valid] == LANDSLIDE
        for row, kind in enumerate((pred & true, pred & ~true, ~pred & true, ~pred & ~true)):
            self.counts[row] += np.bincount(bins[kind], minlength=self.limit + 2)

    def beyond(self, pixels: int) -> Confusion:
        """The confusion over the pixels farther than `pixels` from every outline."""
        if not 0 <= pixels <= self.limit:
            raise ValueError(f"{pixels} px: counted up to {self.limit}")
        return Confusion(*(int(n) for n in self.counts[:, pixels + 1 :].sum(axis=1)))

    def scores(self, pixels: int) -> dict:
        """The pixel metrics `pixels` px about the outlines forgiven, and the share of the
        scored pixels that leaves out."""
        kept = self.beyond(pixels)
        total = int(self.counts.sum())
        return {
            "pixels": pixels,
            "left_out": 1.0 - sum(kept.counts()) / total if total else 0.0,
            **kept.metrics(),
        }

    def curve(self) -> list[dict]:
        return [self.scores(pixels) for pixels in range(self.limit + 1)]
