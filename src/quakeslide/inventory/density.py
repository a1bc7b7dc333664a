"""Landslide density on a grid: number density (landslides per km2, each counted in the
cell of its centroid) and areal density (% of each cell's ground inside a landslide)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from affine import Affine

from quakeslide.errors import InputError
from quakeslide.options import named


@dataclass(frozen=True)
class DensityGrids:
    transform: Affine  # cell (row, col) -> map coordinates of the grid's CRS
    counts: np.ndarray  # landslides per cell (by centroid)
    area_m2: np.ndarray  # landslide ground per cell (exact intersections)
    cell_m: float

    @property
    def number_per_km2(self) -> np.ndarray:
        return (self.counts / (self.cell_m**2 / 1e6)).astype(np.float32)

    @property
    def areal_percent(self) -> np.ndarray:
        return (100 * self.area_m2 / self.cell_m**2).astype(np.float32)


def density_grids(
    polygons: np.ndarray, bounds: tuple[float, float, float, float], cell_m: float
) -> DensityGrids:
    """Cells of `cell_m` metres from the top-left of `bounds` (a metric CRS), covering it."""
    west, south, east, north = bounds
    if cell_m >= max(east - west, north - south):
        raise InputError(
            f"{named('grid')} {cell_m:g} m: a cell as large as the mapped ground"
            f" ({east - west:.0f} x {north - south:.0f} m) shows no pattern; give a smaller one"
        )
    cols = int(np.ceil((east - west) / cell_m))
    rows = int(np.ceil((north - south) / cell_m))
    transform = Affine(cell_m, 0, west, 0, -cell_m, north)
    counts = np.zeros((rows, cols), np.int64)
    area = np.zeros((rows, cols), np.float64)
    if len(polygons):
        centroids = shapely.centroid(polygons)
        col = np.clip(((shapely.get_x(centroids) - west) // cell_m).astype(int), 0, cols - 1)
        row = np.clip(((north - shapely.get_y(centroids)) // cell_m).astype(int), 0, rows - 1)
        np.add.at(counts, (row, col), 1)
        cells = _cell_boxes(transform, rows, cols)
        index = shapely.STRtree(cells)
        which, cell = index.query(polygons, predicate="intersects")
        pieces = shapely.area(shapely.intersection(polygons[which], cells[cell]))
        np.add.at(area.ravel(), cell, pieces)
    return DensityGrids(transform, counts, area, float(cell_m))


def _cell_boxes(transform: Affine, rows: int, cols: int) -> np.ndarray:
    r, c = np.mgrid[:rows, :cols]
    x0, y0 = transform * (c.ravel(), r.ravel())
    x1, y1 = transform * (c.ravel() + 1, r.ravel() + 1)
    return shapely.box(x0, y1, x1, y0)
