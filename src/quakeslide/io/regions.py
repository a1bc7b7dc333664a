"""Connected landslide regions of a mask read in bands of rows, merged across band seams.

Each band is labelled (4-connected) and polygonised in pixel coordinates, which are exact
integers, so pieces of one region from two bands share their seam edges exactly and merge
into one clean polygon. A region is emitted as soon as no part of it touches the band
still to come: memory holds one band plus the regions that cross its lower edge.

With a separation (`io/separation.py`), each piece also keeps its mask and probability
crops, and a finished region is split into the landslides it holds before it is emitted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import shapely
from affine import Affine
from rasterio.features import shapes
from scipy import ndimage

from quakeslide.io.separation import MAX_PIXELS, MIN_PIXELS, Separation, split_region

FOUR_CONNECTED = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]])


@dataclass
class Region:
    """One 4-connected landslide region: outline in pixel coordinates, probability sum."""

    pieces: list[shapely.Geometry] = field(default_factory=list)
    probability_sum: float = 0.0
    pixels: int = 0
    # (row, col, mask, probability) crops of its pieces: kept only to separate it
    crops: list[tuple[int, int, np.ndarray, np.ndarray]] = field(default_factory=list)

    def geometry(self) -> shapely.Geometry:
        """The merged outline; seam vertices left on straight edges are removed (exact)."""
        if len(self.pieces) == 1:
            return self.pieces[0]
        return shapely.simplify(shapely.union_all(self.pieces), 0.0)

    @property
    def mean_probability(self) -> float:
        return self.probability_sum / max(self.pixels, 1)


class BandRegions:
    """Feed bands top to bottom with `add`; each call returns the regions it finished."""

    def __init__(self, separation: Separation = "none") -> None:
        self.separation = separation
        self.parent: dict[int, int] = {}
        self.regions: dict[int, Region] = {}  # by root id
        self.previous_row: np.ndarray | None = None
        self.next_id = 1

    def add(self, mask: np.ndarray, probability: np.ndarray, row0: int, last: bool) -> list[Region]:
        labels, count = ndimage.label(mask, structure=FOUR_CONNECTED)
        offset = self.next_id - 1
        self.next_id += count
        inside = mask.ravel().astype(bool)  # only landslide pixels: no full-band float64 copy
        flat = labels.ravel()[inside]
        weights = probability.ravel()[inside].astype(np.float64)
        sums = np.bincount(flat, weights=weights, minlength=count + 1)
        pixels = np.bincount(flat, minlength=count + 1)
        for value in range(1, count + 1):
            piece_id = offset + value
            self.parent[piece_id] = piece_id
            self.regions[piece_id] = Region([], float(sums[value]), int(pixels[value]))
        if self.separation != "none":
            for value, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
                crop = labels[rows, cols] == value
                self.regions[offset + value].crops.append(
                    (row0 + rows.start, cols.start, crop, probability[rows, cols].copy())
                )
        to_pixels = Affine.translation(0, row0)
        for geojson, value in shapes(labels, mask=labels > 0, transform=to_pixels):
            self.regions[offset + int(value)].pieces.append(shapely.geometry.shape(geojson))
        first = np.where(labels[0] > 0, labels[0].astype(np.int64) + offset, 0)
        if self.previous_row is not None and count:
            touching = (self.previous_row > 0) & (first > 0)
            pairs = zip(self.previous_row[touching], first[touching], strict=True)
            for above, below in set(pairs):
                self._union(int(above), int(below))
        bottom = np.where(labels[-1] > 0, labels[-1].astype(np.int64) + offset, 0)
        self.previous_row = None if last else bottom
        open_pieces = {} if last else {int(i): self._root(int(i)) for i in np.unique(bottom) if i}
        still_open = set(open_pieces.values())
        finished = [root for root in self.regions if root not in still_open]
        # only pieces on the lower edge can be reached again: forget every other id, so
        # memory stays bounded by a band whatever the scene's height
        self.parent = {**{root: root for root in still_open}, **open_pieces}
        done = [self.regions.pop(root) for root in finished]
        if self.separation == "none":
            return done
        return [part for region in done for part in separate(region, self.separation)]

    def _root(self, piece: int) -> int:
        while self.parent[piece] != piece:
            self.parent[piece] = self.parent[self.parent[piece]]
            piece = self.parent[piece]
        return piece

    def _union(self, a: int, b: int) -> None:
        a, b = self._root(a), self._root(b)
        if a == b:
            return
        self.parent[b] = a
        merged, absorbed = self.regions[a], self.regions.pop(b)
        merged.pieces.extend(absorbed.pieces)
        merged.crops.extend(absorbed.crops)
        merged.probability_sum += absorbed.probability_sum
        merged.pixels += absorbed.pixels


def separate(region: Region, separation: Separation) -> list[Region]:
    """The landslides one finished region holds (itself alone when it holds one).

    Regions too small to hold two, or too large to stitch, are left whole before their
    crops are put together (most regions of a map are specks)."""
    top = min(row for row, _, _, _ in region.crops)
    left = min(col for _, col, _, _ in region.crops)
    bottom = max(row + mask.shape[0] for row, _, mask, _ in region.crops)
    right = max(col + mask.shape[1] for _, col, mask, _ in region.crops)
    if region.pixels < MIN_PIXELS or (bottom - top) * (right - left) > MAX_PIXELS:
        region.crops = []
        return [region]
    inside = np.zeros((bottom - top, right - left), bool)
    probability = np.zeros(inside.shape, np.float32)
    for row, col, mask, crop in region.crops:
        window = (
            slice(row - top, row - top + mask.shape[0]),
            slice(col - left, col - left + mask.shape[1]),
        )
        inside[window] |= mask
        probability[window][mask] = crop[mask]
    region.crops = []
    labels, count = split_region(inside, probability, separation)
    if count == 1:
        return [region]
    sums = np.bincount(labels.ravel(), weights=probability.ravel(), minlength=count + 1)
    pixels = np.bincount(labels.ravel(), minlength=count + 1)
    parts = [Region([], float(sums[value]), int(pixels[value])) for value in range(count + 1)]
    for geojson, value in shapes(labels, mask=labels > 0, transform=Affine.translation(left, top)):
        parts[int(value)].pieces.append(shapely.geometry.shape(geojson))
    return parts[1:]


def iter_regions(
    read_band, height: int, band_rows: int, separation: Separation = "none"
) -> Iterator[Region]:
    """Regions of a whole raster read as `read_band(row0, rows) -> (mask, probability)`."""
    builder = BandRegions(separation)
    for row0 in range(0, height, band_rows):
        rows = min(band_rows, height - row0)
        mask, probability = read_band(row0, rows)
        yield from builder.add(mask, probability, row0, last=row0 + rows >= height)
