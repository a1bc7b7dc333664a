"""Test-time augmentation: average the probability over mirrored / rotated views of a window.

A view is (transpose, flip rows, flip columns), applied in that order; the eight views are
the dihedral group of the square (four rotations, each mirrored or not). `flip` keeps the
four without a transpose, so it also works on windows that are not square. All the views
of a batch go through the model as one batch (two where a transpose changes its shape).
"""

from __future__ import annotations

from dataclasses import replace
from itertools import product
from typing import NamedTuple

import numpy as np

from quakeslide.inference.engines import Engine
from quakeslide.options import Tta


class View(NamedTuple):
    transpose: bool
    flip_rows: bool
    flip_cols: bool

    def apply(self, images: np.ndarray) -> np.ndarray:
        """(N, C, H, W) -> the view of each image."""
        if self.transpose:
            images = images.swapaxes(-1, -2)
        return _flip(images, self.flip_rows, self.flip_cols)

    def undo(self, probability: np.ndarray) -> np.ndarray:
        """(N, H', W') probability of the view -> back on the original pixel grid."""
        probability = _flip(probability, self.flip_rows, self.flip_cols)
        return probability.swapaxes(-1, -2) if self.transpose else probability


def _flip(array: np.ndarray, rows: bool, cols: bool) -> np.ndarray:
    axes = tuple(axis for axis, wanted in ((-2, rows), (-1, cols)) if wanted)
    return np.flip(array, axes) if axes else array


TTA_VIEWS: dict[Tta, tuple[View, ...]] = {
    "none": (View(False, False, False),),
    "flip": tuple(View(False, r, c) for r, c in product((False, True), repeat=2)),
    "d4": tuple(View(t, r, c) for t, r, c in product((False, True), repeat=3)),
}


def with_tta(engine: Engine, name: Tta) -> Engine:
    """`engine` whose probability is the mean over the views `name` stands for."""
    views = TTA_VIEWS[name]
    if len(views) == 1:
        return engine

    def predict(batch: np.ndarray) -> np.ndarray:
        square = batch.shape[-1] == batch.shape[-2]
        groups = [views] if square else [[v for v in views if v.transpose == t] for t in (0, 1)]
        total = np.zeros((batch.shape[0], *batch.shape[2:]), np.float32)
        for group in filter(None, groups):
            stacked = np.concatenate([v.apply(batch) for v in group])
            outputs = np.split(engine.predict(stacked), len(group))
            for view, probability in zip(group, outputs, strict=True):
                total += view.undo(probability)
        return total / len(views)

    return replace(engine, predict=predict, description={**engine.description, "tta": name})
