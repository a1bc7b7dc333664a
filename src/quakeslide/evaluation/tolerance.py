"""Scores that forgive the drawing hand: pixels near a drawn outline left out.

Hand-drawn outlines are not exact to the pixel, so a model that finds every landslide
still disagrees with them along every outline. Leaving out the pixels within `pixels` of
an outline (on both sides, from both the prediction and the truth) measures the map
without that disagreement; the exact scores stay the headline.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from quakeslide.classes import IGNORE, LANDSLIDE


def outline_band(truth: np.ndarray, pixels: int) -> np.ndarray:
    """Pixels within `pixels` (Euclidean) of an outline between landslide and the rest.

    The tile's own edge is no outline: a landslide cut by it is not bounded there.
    """
    landslide = truth == LANDSLIDE
    if pixels <= 0 or landslide.all() or not landslide.any():
        return np.zeros(truth.shape, dtype=bool)
    inside = ndimage.distance_transform_edt(landslide) <= pixels
    outside = ndimage.distance_transform_edt(~landslide) <= pixels
    return np.where(landslide, inside, outside)


def without_outlines(truth: np.ndarray, pixels: int) -> np.ndarray:
    """`truth` with the outline band set to ignore, so Confusion leaves it out."""
    band = outline_band(truth, pixels)
    if not band.any():
        return truth
    return np.where(band, np.uint8(IGNORE), truth).astype(truth.dtype, copy=False)
