"""Touching landslides kept apart: one predicted region split where it holds more than one.

A segmentation mask joins neighbouring landslides into one region wherever their pixels
touch (amalgamation): the count drops, the large-size tail of the frequency-area
distribution swells, and the volume, which grows faster than area, is biased up. A region
is split by a watershed seeded from its maxima, then neighbouring basins are merged back
unless the ground between them marks a real boundary:

- ``shape``: basins of the distance to the region's edge; two basins stay apart where the
  neck between them is narrower than `NECK_RATIO` times the smaller one's width (two
  touching scars meet at a narrow neck, a single irregular scar has no deep neck).
- ``probability``: basins of the probability; two stay apart where the probability between
  them dips by `PROBABILITY_DIP` below the lower of their peaks.

Basins are 4-connected, so each piece polygonises to one polygon and neighbouring pieces
share their edges exactly: the region's area is kept whole.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.segmentation import watershed

from quakeslide.options import Separation

NECK_RATIO = 0.7  # neck half-width / smaller basin's inscribed radius below which a cut is made
MIN_RADIUS = 2.0  # px: maxima of the distance closer than this to the edge seed nothing
PROBABILITY_DIP = 0.2  # how far the probability must dip between two basins
PINHOLE = 25  # px: holes smaller than this are filled before the distance is taken
MIN_PIXELS = 32  # regions smaller than this are never split (io/regions.py checks)
MAX_PIXELS = 20_000_000  # regions whose bounding box is larger are left whole (memory)

FOUR = ndimage.generate_binary_structure(2, 1)
EIGHT = ndimage.generate_binary_structure(2, 2)


def split_region(
    inside: np.ndarray, probability: np.ndarray, method: Separation
) -> tuple[np.ndarray, int]:
    """Labels 1..n of the separate landslides in a region's bounding box (0 outside it)."""
    if method == "none":
        return inside.astype(np.int32), 1
    if method == "shape":
        # pinholes of a patchy map are not boundaries (each would seed necks around it);
        # larger holes often are the strip of ground between two landslides
        solid = _pinholes_filled(inside)
        height = ndimage.distance_transform_edt(solid)
        seeds = height >= MIN_RADIUS
        margin = None
    else:
        solid = inside
        height = np.where(inside, ndimage.uniform_filter(probability.astype(np.float32), 3), 0)
        seeds = inside
        margin = PROBABILITY_DIP
    basins, count = _watershed(height, solid, seeds)
    if count <= 1:
        return inside.astype(np.int32), 1
    labels, count = _merge_shallow(basins, count, height, margin)
    return _connected(np.where(inside, labels, 0))


def _pinholes_filled(inside: np.ndarray) -> np.ndarray:
    """`inside` with its holes smaller than `PINHOLE` pixels filled."""
    holes, count = ndimage.label(ndimage.binary_fill_holes(inside) & ~inside, structure=FOUR)
    if count == 0:
        return inside
    small = np.bincount(holes.ravel(), minlength=count + 1) < PINHOLE
    small[0] = False
    return inside | small[holes]


def _connected(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Each 4-connected part of each label numbered on its own (a piece of a filled region
    may fall apart where its holes are taken out again)."""
    out = np.zeros(labels.shape, np.int32)
    count = 0
    for value in range(1, int(labels.max()) + 1):
        parts, n = ndimage.label(labels == value, structure=FOUR)
        out[parts > 0] = parts[parts > 0] + count
        count += n
    return out, count


def _watershed(
    height: np.ndarray, inside: np.ndarray, allowed: np.ndarray
) -> tuple[np.ndarray, int]:
    """Basins of `height` flooded from its plateaus of local maxima (4-connected)."""
    peak = (height == ndimage.maximum_filter(height, footprint=EIGHT)) & allowed & inside
    markers, count = ndimage.label(peak, structure=FOUR)
    if count <= 1:
        return markers, count
    basins = watershed(-height, markers, connectivity=1, mask=inside)
    return basins.astype(np.int32), count


def _merge_shallow(
    basins: np.ndarray, count: int, height: np.ndarray, margin: float | None
) -> tuple[np.ndarray, int]:
    """Merge neighbouring basins unless the saddle between them is low enough to cut."""
    peaks = ndimage.maximum(height, basins, index=np.arange(count + 1))
    peaks = np.asarray(peaks, dtype=np.float64)
    a, b, saddle = _boundaries(basins, height)
    keys = np.minimum(a, b).astype(np.int64) * (count + 1) + np.maximum(a, b)
    pair_keys, where = np.unique(keys, return_inverse=True)
    highest = np.zeros(len(pair_keys))
    np.maximum.at(highest, where, saddle)  # each pair's saddle: its highest boundary pixel
    parent = np.arange(count + 1)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return int(i)

    for i in np.argsort(-highest):  # the strongest links first
        ra, rb = (root(int(label)) for label in divmod(int(pair_keys[i]), count + 1))
        saddle = highest[i]
        if ra == rb:
            continue
        lower = min(peaks[ra], peaks[rb])
        deep_enough = (saddle < NECK_RATIO * lower) if margin is None else (saddle < lower - margin)
        if not deep_enough:
            parent[rb] = ra
            peaks[ra] = max(peaks[ra], peaks[rb])
    roots = np.array([root(i) for i in range(count + 1)])
    _, relabel = np.unique(roots[1:], return_inverse=True)
    lookup = np.concatenate([[0], relabel + 1]).astype(np.int32)
    return lookup[basins], int(relabel.max()) + 1


def _boundaries(
    basins: np.ndarray, height: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels on both sides of each 4-adjacent pair of pixels in two different basins, and
    the lower height of the two (the pass between them)."""
    parts = []
    for axis in (0, 1):
        n = basins.shape[axis]
        a, b = basins.take(range(n - 1), axis=axis), basins.take(range(1, n), axis=axis)
        ha, hb = height.take(range(n - 1), axis=axis), height.take(range(1, n), axis=axis)
        edge = (a != b) & (a > 0) & (b > 0)
        parts.append((a[edge], b[edge], np.minimum(ha[edge], hb[edge])))
    return tuple(np.concatenate(column) for column in zip(*parts, strict=True))
