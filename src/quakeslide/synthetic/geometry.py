"""Vector helpers of the layout: growing indexes, offset bands, merging, chopped trees."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from shapely import Polygon, STRtree


class GridIndex:
    """Coarse bucket index for geometries added one by one (an STRtree cannot grow)."""

    def __init__(self, cell: float) -> None:
        self._cell = cell
        self._buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
        self.geoms: list[Polygon] = []

    def _keys(self, geom: Polygon) -> list[tuple[int, int]]:
        xmin, ymin, xmax, ymax = geom.bounds
        c = self._cell
        return [
            (i, j)
            for i in range(math.floor(xmin / c), math.floor(xmax / c) + 1)
            for j in range(math.floor(ymin / c), math.floor(ymax / c) + 1)
        ]

    def near(self, geom: Polygon) -> list[Polygon]:
        found = {i for k in self._keys(geom) for i in self._buckets.get(k, ())}
        return [self.geoms[i] for i in sorted(found)]

    def add(self, geom: Polygon) -> None:
        for k in self._keys(geom):
            self._buckets[k].append(len(self.geoms))
        self.geoms.append(geom)


def polygon_parts(geom: shapely.Geometry) -> list[Polygon]:
    return [g for g in shapely.get_parts(geom) if isinstance(g, Polygon) and not g.is_empty]


def largest_part(geom: shapely.Geometry) -> Polygon | None:
    parts = polygon_parts(shapely.make_valid(geom))
    return max(parts, key=lambda p: p.area) if parts else None


def band_runs(
    pts: np.ndarray, normal: np.ndarray, inner: np.ndarray, outer: np.ndarray, sel: np.ndarray
) -> list[Polygon]:
    """Polygons between two offset lines of a polyline, one per run of ``sel``."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], sel.astype(np.int8), [0]])))
    out = []
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if stop - start < 3:
            continue
        s = slice(start, stop)
        a = pts[s] + normal[s] * inner[s, None]
        b = pts[s] + normal[s] * outer[s, None]
        out.extend(p for p in polygon_parts(shapely.make_valid(Polygon(np.vstack([a, b[::-1]])))))
    return [p for p in out if p.area > 1.0]


def noise_1d(rng: np.random.Generator, u: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Smooth random profile in about [0, 1] along a 1-d coordinate (wavelengths lo..hi)."""
    lam = rng.uniform(lo, hi, 3)
    phase = rng.uniform(0, 2 * math.pi, 3)
    waves = np.sin(2 * math.pi * u[:, None] / lam + phase).sum(axis=1)
    return 0.5 + waves / 6.0


def merge_touching(polygons: list[Polygon]) -> list[Polygon]:
    """Union touching scars and fill holes (Labelme polygons have none); sorted top-left.

    Only groups of intersecting scars are unioned: one union over thousands of scars is slow.
    Repeats until stable, since a filled hole may swallow another scar.
    """
    parts = list(polygons)
    while len(parts) > 1:
        geoms = np.array(parts, dtype=object)
        left, right = STRtree(geoms).query(geoms, predicate="intersects")
        if (left == right).all():
            break
        graph = coo_matrix((np.ones(left.size), (left, right)), shape=(len(parts), len(parts)))
        _, labels = connected_components(graph, directed=False)
        parts = [
            Polygon(p.exterior)
            for label in np.unique(labels)
            for p in polygon_parts(shapely.union_all(geoms[labels == label]))
        ]
    return sorted(parts, key=lambda p: (-p.bounds[3], p.bounds[0]))


def one_polygon_per_scar(
    scars: list[Polygon], merged: list[Polygon], firsts: list[int]
) -> list[shapely.Geometry]:
    """Each scar as its own landslide, the pieces tiling the merged truth exactly.

    Where scars overlap, the earlier one keeps the overlap; a hole a merged polygon filled
    goes to that polygon's first scar (`firsts`), as the renderer paints it. Touching scars
    share their edges, so a map that joins them can be scored against them one by one.
    """
    tree = STRtree(scars)
    pieces: list[shapely.Geometry] = []
    for i, scar in enumerate(scars):
        earlier = [scars[j] for j in tree.query(scar, predicate="intersects") if j < i]
        pieces.append(scar.difference(shapely.union_all(earlier)) if earlier else scar)
    for polygon, first in zip(merged, firsts, strict=True):
        members = tree.query(polygon, predicate="intersects")
        rest = polygon.difference(shapely.union_all([pieces[j] for j in members]))
        if rest.area > 0:
            pieces[first] = shapely.union(pieces[first], rest)
    return [_polygonal(piece) for piece in pieces]


def _polygonal(geom: shapely.Geometry) -> Polygon | shapely.MultiPolygon:
    """The areas of a difference or union, without the slivers of lines or points it may
    carry (a GeometryCollection)."""
    parts = polygon_parts(geom)
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


def chopped_tree(geoms: list[Polygon], cell: float = 200.0) -> STRtree:
    """STRtree over the geometries cut into ``cell`` squares.

    Long rivers and roads would otherwise match every nearby query by bounding box and make
    each exact intersection test walk thousands of vertices.
    """
    pieces = []
    for geom in geoms:
        xmin, ymin, xmax, ymax = geom.bounds
        if max(xmax - xmin, ymax - ymin) <= cell:
            pieces.append(geom)
            continue
        xs = np.arange(math.floor(xmin / cell), math.floor(xmax / cell) + 1) * cell
        ys = np.arange(math.floor(ymin / cell), math.floor(ymax / cell) + 1) * cell
        gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
        shapely.prepare(geom)
        hit = shapely.intersects(geom, shapely.box(gx, gy, gx + cell, gy + cell))
        for x, y in zip(gx[hit], gy[hit], strict=True):
            piece = shapely.clip_by_rect(geom, x, y, x + cell, y + cell)
            if not piece.is_empty:
                pieces.append(piece)
    return STRtree(pieces)
