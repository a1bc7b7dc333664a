"""The landslide polygons an inventory is made of: prediction folders (each scene's
GeoPackage) and vector files, pooled into one event in one metric CRS."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyogrio
import rasterio
import shapely
from rasterio.crs import CRS
from rasterio.warp import transform as transform_points

from quakeslide.classes import LANDSLIDE
from quakeslide.errors import InputError, first_line
from quakeslide.folders import PredictionFolder
from quakeslide.io.label_sources import VECTOR_SUFFIXES
from quakeslide.io.vectors import polygonize, utm_crs


@dataclass(frozen=True)
class Inventory:
    """Polygons in one metric CRS, their areas (m2), and the ground they were mapped on
    (the scenes' bounds for prediction folders, else the polygons' bounds)."""

    polygons: np.ndarray  # shapely polygons / multipolygons
    crs: CRS
    bounds: tuple[float, float, float, float]
    sources: list[str]

    @property
    def areas_m2(self) -> np.ndarray:
        return shapely.area(self.polygons)


def read_inventory(inputs: list[Path]) -> Inventory:
    """Every input's landslides; geographic CRSs go to the UTM zone of the first input's
    centre (areas in metres), later inputs to the first one's CRS."""
    if not inputs:
        raise InputError("no inventory given: name prediction folders or vector files")
    parts = [part for path in inputs for part in _read(Path(path))]
    crs = _metric_crs(parts[0])
    polygons, boxes = [], []
    for geometries, source_crs, bounds in parts:
        polygons.append(_reproject(geometries, source_crs, crs))
        boxes.append(_reproject(np.array([shapely.box(*bounds)]), source_crs, crs))
    pooled = np.concatenate(polygons) if polygons else np.array([], dtype=object)
    ground = shapely.total_bounds(np.concatenate(boxes))
    return Inventory(pooled, crs, tuple(map(float, ground)), [str(p) for p in inputs])


Part = tuple[np.ndarray, CRS, tuple[float, float, float, float]]


def _read(path: Path) -> list[Part]:
    if path.is_dir():
        folder = PredictionFolder(path)
        if not folder.scenes():
            raise InputError(f"{path}: not a prediction folder (no SCENE_summary.json)")
        parts = []
        for stem in folder.scenes():
            outputs = folder.outputs(stem)
            geometries, crs = _vector(outputs.landslides)
            with rasterio.open(outputs.mask) as mask:  # the ground the scene covers
                parts.append((geometries, crs, tuple(mask.bounds)))
        return parts
    if path.suffix.lower() in MASK_SUFFIXES:
        return [_mask_polygons(path)]
    if path.suffix.lower() not in VECTOR_SUFFIXES:
        raise InputError(f"{path}: not a prediction folder, a vector file or a mask")
    geometries, crs = _vector(path)
    bounds = shapely.total_bounds(geometries) if len(geometries) else (0.0, 0.0, 0.0, 0.0)
    return [(geometries, crs, tuple(bounds))]


MASK_SUFFIXES = {".tif", ".tiff"}


def _mask_polygons(path: Path) -> Part:
    """A georeferenced mask (1 landslide; 0 background; 255 ignore) as one polygon per
    4-connected landslide region."""
    try:
        with rasterio.open(path) as src:
            landslide = src.read(1) == LANDSLIDE
            transform, crs, bounds = src.transform, src.crs, tuple(src.bounds)
    except rasterio.errors.RasterioIOError as err:
        raise InputError(f"{path}: not a readable mask ({first_line(err)})") from None
    if crs is None:
        raise InputError(f"{path}: has no CRS, so its areas are unknown")
    regions = polygonize(landslide, landslide.astype(np.float32), transform, crs)
    return np.array([region.geometry for region in regions], dtype=object), crs, bounds


def _vector(path: Path) -> tuple[np.ndarray, CRS]:
    try:
        layer = next(name for name, kind in pyogrio.list_layers(path) if kind is not None)
        info = pyogrio.read_info(path, layer=layer)
        _, _, wkb, _ = pyogrio.raw.read(path, layer=layer, read_geometry=True, columns=[])
    except StopIteration:
        raise InputError(f"{path}: holds no layer of polygons") from None
    except Exception as err:
        raise InputError(f"{path}: not a readable vector file ({first_line(err)})") from None
    if not info.get("crs"):
        raise InputError(f"{path}: has no CRS, so its areas are unknown")
    geometries = shapely.from_wkb(wkb) if wkb is not None else np.array([], dtype=object)
    geometries = geometries[shapely.get_type_id(geometries) >= 3]  # polygons only
    return shapely.make_valid(geometries), CRS.from_user_input(info["crs"])


def _metric_crs(part: Part) -> CRS:
    """The part's CRS when it is projected, else the UTM zone of its centre."""
    _, crs, bounds = part
    if not crs.is_geographic:
        return crs
    return utm_crs((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)


def in_crs(inventory: Inventory, crs: CRS) -> Inventory:
    """The same inventory in another CRS (a truth compared in the prediction's)."""
    box = np.array([shapely.box(*inventory.bounds)])
    bounds = shapely.total_bounds(_reproject(box, inventory.crs, crs))
    polygons = _reproject(inventory.polygons, inventory.crs, crs)
    return Inventory(polygons, crs, tuple(map(float, bounds)), inventory.sources)


def _reproject(geometries: np.ndarray, source: CRS, target: CRS) -> np.ndarray:
    if source == target or not len(geometries):
        return geometries

    def move(xy: np.ndarray) -> np.ndarray:
        xs, ys = transform_points(source, target, xy[:, 0], xy[:, 1])
        return np.column_stack([xs, ys])

    return shapely.transform(geometries, move)
