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
        self.column_starts = np.flatnonzero(np.diff(column_cell, prepend=-1))
        self.column_counts = np.diff(self.column_starts, append=width)
        self.sums = np.zeros((bands, self.out_h, self.out_w), np.uint32)  # exact to 16 M px a cell
        self.row_counts = np.zeros(self.out_h, np.int64)

    @property
    def scale(self) -> tuple[float, float]:
        """Picture pixels per scene pixel, (rows, columns)."""
        return self.out_h / self.height, self.out_w / self.width

    def add(self, row: int, image: np.ndarray) -> None:
        """Add scene rows [row, row + image.shape[1]) of `image` (bands, rows, width)."""
        columns = np.add.reduceat(image, self.column_starts, axis=2, dtype=np.uint32)
        cells = np.arange(row, row + image.shape[1]) * self.out_h // self.height
        starts = np.flatnonzero(np.diff(cells, prepend=-1))
        self.sums[:, cells[starts]] += np.add.reduceat(columns, starts, axis=1, dtype=np.uint32)
        self.row_counts[cells[starts]] += np.diff(starts, append=image.shape[1])

    def picture(self) -> np.ndarray:
        """uint8 (bands, out_h, out_w); rows never added stay black."""
        counts = np.outer(np.maximum(self.row_counts, 1), self.column_counts)
        return np.clip(np.rint(self.sums / counts), 0, 255).astype(np.uint8)
