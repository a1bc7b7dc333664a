"""Landslide labels -> mask arrays for raster windows."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pyogrio.raw
import shapely
from rasterio.crs import CRS
from rasterio.features import rasterize
from rasterio.warp import transform_geom
from rasterio.windows import Window
from rasterio.windows import bounds as window_bounds
from rasterio.windows import transform as window_transform

from quakeslide.errors import InputError
from quakeslide.options import named

log = logging.getLogger(__name__)


class PolygonLabels:
    """Landslide polygons in a scene's CRS, indexed for fast per-window rasterisation."""

    def __init__(self, polygons: list[shapely.Geometry]):
        self.polygons = [p for p in polygons if not p.is_empty]
        self._tree = shapely.STRtree(self.polygons)

    def __len__(self) -> int:
        return len(self.polygons)

    def mask(self, window: Window, scene_transform) -> np.ndarray:
        """uint8 mask (1 = landslide) of `window`; all_touched=False like GDAL's default."""
        shape = (int(window.height), int(window.width))
        transform = window_transform(window, scene_transform)
        hits = self._tree.query(shapely.box(*window_bounds(window, scene_transform)))
        if len(hits) == 0:
            return np.zeros(shape, np.uint8)
        shapes = [(self.polygons[i], 1) for i in hits]
        return rasterize(shapes, out_shape=shape, transform=transform, fill=0, dtype="uint8")


def read_vector_labels(
    path: Path,
    scene_crs: CRS | None,
    scene_bounds: tuple[float, float, float, float] | None = None,
    assume_crs: str | None = None,
) -> PolygonLabels:
    """Read polygons from a GeoPackage / Shapefile / GeoJSON, reprojected to the scene CRS.

    Invalid polygons are repaired (with a warning); polygons outside `scene_bounds` are
    dropped and counted in the log.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: label file not found")
    try:
        meta, _, geometries, _ = pyogrio.raw.read(path, read_geometry=True)
    except Exception as err:  # pyogrio raises several error types for unreadable files
        raise InputError(f"{path}: not a readable vector file ({err})") from err
    polygons = [shapely.from_wkb(g) for g in geometries if g is not None]
    label_crs = CRS.from_user_input(meta["crs"]) if meta.get("crs") else None
    if label_crs is None and assume_crs is not None:
        label_crs = CRS.from_user_input(assume_crs)
    if scene_crs is not None and label_crs is None:
        raise InputError(
            f"{path}: the vector file has no CRS but the scene has one; pass {named('assume_crs')}"
        )
    if scene_crs is not None and label_crs != scene_crs:
        polygons = [
            shapely.geometry.shape(transform_geom(label_crs, scene_crs, p.__geo_interface__))
            for p in polygons
        ]
    repaired = sum(not p.is_valid for p in polygons)
    if repaired:
        log.warning("%s: repaired %d invalid polygon(s)", path, repaired)
        polygons = [p if p.is_valid else shapely.make_valid(p) for p in polygons]
    if scene_bounds is not None:
        inside = shapely.intersects(polygons, shapely.box(*scene_bounds)) if polygons else []
        outside = len(polygons) - int(sum(inside))
        if outside:
            log.info("%s: %d polygon(s) outside the scene ignored", path, outside)
        polygons = [p for p, keep in zip(polygons, inside, strict=True) if keep]
    return PolygonLabels(polygons)
