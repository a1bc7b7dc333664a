"""A scene averaged down to a small picture, built from bands of rows as they stream by.

Prediction reads every scene pixel once anyway; averaging those bands into the quicklook
saves a second, decimated read of the whole scene (measured: 0.5 s of 9 s at 4000 px).
"""

from __future__ import annotations

import numpy as np


class Thumbnail:
    """Area average of a (bands, height, width) raster onto at most `max_side` a side."""

    def __init__(self, height: int, width: int, bands: int, max_side: int) -> None:
        scale = min(1.0, max_side / max(height, width))
        self.height, self.width = height, width
        self.out_h, self.out_w = max(1, round(height * scale)), max(1, round(width * scale))
        column_cell = np.arange(width) * self.out_w // width
        column_starts = np.flatnonzero(np.diff(column_cell, prepend=-1))
        self.column_ends = np.append(column_starts[1:], width) - 1  # last column of each cell
        self.column_counts = np.diff(column_starts, append=width)
        self.sums = np.zeros((bands, self.out_h, self.out_w), np.uint32)  # exact to 16 M px a cell
        self.row_counts = np.zeros(self.out_h, np.int64)

    @property
    def scale(self) -> tuple[float, float]:
        """Picture pixels per scene pixel, (rows, columns)."""
        return self.out_h / self.height, self.out_w / self.width

    def add(self, row: int, image: np.ndarray) -> None:
        """Add scene rows [row, row + image.shape[1]) of `image` (bands, rows, width)."""
        columns = _cell_sums(image, self.column_ends, axis=2)
        cells = np.arange(row, row + image.shape[1]) * self.out_h // self.height
        starts = np.flatnonzero(np.diff(cells, prepend=-1))
        ends = np.append(starts[1:], image.shape[1]) - 1
        self.sums[:, cells[starts]] += _cell_sums(columns, ends, axis=1)
        self.row_counts[cells[starts]] += np.diff(starts, append=image.shape[1])

    def picture(self) -> np.ndarray:
        """uint8 (bands, out_h, out_w); rows never added stay black."""
        counts = np.outer(np.maximum(self.row_counts, 1), self.column_counts)
        return np.clip(np.rint(self.sums / counts), 0, 255).astype(np.uint8)


def _cell_sums(values: np.ndarray, ends: np.ndarray, axis: int) -> np.ndarray:
    """Sums of consecutive runs along `axis`, each ending at `ends` (inclusive), as uint32.

    Differences of a cumulative sum: faster than np.add.reduceat on runs of 2-3 values
    (3.6 against 4.7 ms over the columns of a 3 x 192 x 4000 band).
    """
    totals = np.cumsum(values, axis=axis, dtype=np.uint32).take(ends, axis=axis)
    return np.diff(totals, axis=axis, prepend=np.zeros_like(totals.take([0], axis=axis)))
