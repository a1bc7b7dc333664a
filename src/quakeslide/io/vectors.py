"""Mask -> landslide polygons with area, written as GeoPackage."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyogrio.raw
import shapely
from rasterio.crs import CRS
from rasterio.warp import transform_geom

from quakeslide.io.regions import Region, iter_regions
from quakeslide.options import Separation


@dataclass(frozen=True)
class Landslide:
    id: int
    geometry: shapely.Geometry  # in the scene CRS (or pixel grid without one)
    area_px: float
    area_m2: float  # NaN when the pixel size is unknown (plain image without --pixel-size)
    perimeter_m: float
    mean_probability: float


def polygonize(
    mask: np.ndarray,
    probability: np.ndarray,
    transform,
    crs: CRS | None,
    min_area_m2: float = 0.0,
    pixel_size: float | None = None,
    band_rows: int | None = None,
    separation: Separation = "none",
) -> list[Landslide]:
    """Landslides of in-memory arrays, polygonised in bands of `band_rows` (default: one)."""
    height = mask.shape[0]

    def read_band(row0: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
        return mask[row0 : row0 + rows] > 0, probability[row0 : row0 + rows]

    regions = iter_regions(read_band, height, band_rows or max(height, 1), separation)
    return to_landslides(regions, transform, crs, min_area_m2, pixel_size)


def to_landslides(
    regions: Iterable[Region],
    transform,
    crs: CRS | None,
    min_area_m2: float = 0.0,
    pixel_size: float | None = None,
) -> list[Landslide]:
    """All landslides of `regions` in one list (see `iter_landslides`)."""
    chunks = iter_landslides(regions, transform, crs, min_area_m2, pixel_size)
    return [landslide for chunk in chunks for landslide in chunk]


def iter_landslides(
    regions: Iterable[Region],
    transform,
    crs: CRS | None,
    min_area_m2: float = 0.0,
    pixel_size: float | None = None,
    chunk: int = 512,
) -> Iterator[list[Landslide]]:
    """One polygon per 4-connected region, with metric area and mean probability, in chunks.

    Areas are metres squared for projected CRSs; for geographic CRSs each polygon is
    measured in its local UTM zone, so the figures stay in metres. Without a CRS they are
    in metres only with `pixel_size`; `min_area_m2` then filters on pixels instead.
    Regions are converted `chunk` at a time with shapely's array functions (4x faster
    than one by one) and yielded as they are, so a caller can write them out and forget
    them; ids run on across chunks.
    """
    matrix = np.array([[transform.a, transform.b], [transform.d, transform.e]])
    offset = np.array([transform.xoff, transform.yoff])
    count = 0
    regions = iter(regions)
    while batch := list(itertools.islice(regions, chunk)):
        pixel = np.array([region.geometry() for region in batch], dtype=object)
        world = shapely.transform(pixel, lambda xy: xy @ matrix.T + offset)
        if crs is not None:
            metric = _to_metric(world, crs)
        elif pixel_size is not None:
            metric = shapely.transform(pixel, lambda xy: xy * pixel_size)
        else:
            metric = None
        area_px = shapely.area(pixel)
        nan = np.full(len(batch), np.nan)
        area_m2 = shapely.area(metric) if metric is not None else nan
        perimeter_m = shapely.length(metric) if metric is not None else nan
        kept = np.flatnonzero((area_m2 if metric is not None else area_px) >= min_area_m2)
        yield [
            Landslide(
                id=count + n + 1,
                geometry=world[i],
                area_px=float(area_px[i]),
                area_m2=float(area_m2[i]),
                perimeter_m=float(perimeter_m[i]),
                mean_probability=batch[i].mean_probability,
            )
            for n, i in enumerate(kept)
        ]
        count += len(kept)


def _to_metric(world: np.ndarray, crs: CRS) -> np.ndarray:
    """Polygons in metres: projected CRSs scaled by their unit, geographic ones in UTM."""
    if not crs.is_geographic:
        metres = crs.linear_units_factor[1]
        return world if metres == 1.0 else shapely.transform(world, lambda xy: xy * metres)
    return np.array([_to_utm(geometry, crs) for geometry in world], dtype=object)


def _to_utm(geom: shapely.Geometry, crs: CRS) -> shapely.Geometry:
    """A geographic polygon in the UTM zone of its centroid."""
    utm = utm_crs(geom.centroid.x, geom.centroid.y)
    return shapely.geometry.shape(transform_geom(crs, utm, geom.__geo_interface__))


def utm_crs(lon: float, lat: float) -> CRS:
    """The WGS 84 UTM zone of a point given in degrees."""
    zone = min(int((lon + 180) // 6) + 1, 60)
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


FIELDS = ["id", "area_px", "area_m2", "perimeter_m", "centroid_x", "centroid_y", "mean_prob"]
# GDAL writes GeoPackage 1.4 by default, which the GDAL 3.6 under QGIS 3.22 (the LTR in
# Debian stable) opens with a "may only be partially supported" warning; 1.2 has all we use
GPKG_OPTIONS = {"VERSION": "1.2"}


class LandslideWriter:
    """A GeoPackage layer written chunk by chunk, so the polygons need not stay in memory.

    Fields: id, area_px, area_m2, perimeter_m, centroid_x/y, mean_prob. The file is
    created by the first `write` (or by `finish` when there were no landslides at all).
    """

    def __init__(self, path: Path, crs: CRS | None) -> None:
        self.path = Path(path)
        self.crs = crs.to_wkt() if crs is not None else None
        self.started = False

    def write(self, landslides: list[Landslide]) -> None:
        if landslides:
            self._write(landslides)

    def finish(self) -> Path:
        if not self.started:
            self._write([])  # an empty layer: the scene has no landslide
        return self.path

    def _write(self, landslides: list[Landslide]) -> None:
        polygons = np.array([ls.geometry for ls in landslides], dtype=object)
        parts = shapely.multipolygons(polygons, indices=np.arange(len(polygons)))
        centroids = shapely.centroid(polygons)
        field_data = [
            np.array([ls.id for ls in landslides], dtype=np.int64),
            np.array([ls.area_px for ls in landslides], dtype=np.float64),
            np.array([ls.area_m2 for ls in landslides], dtype=np.float64),
            np.array([ls.perimeter_m for ls in landslides], dtype=np.float64),
            shapely.get_x(centroids).astype(np.float64),
            shapely.get_y(centroids).astype(np.float64),
            np.array([ls.mean_probability for ls in landslides], dtype=np.float64),
        ]
        pyogrio.raw.write(
            self.path,
            shapely.to_wkb(parts),
            field_data,
            FIELDS,
            layer="landslides",
            driver="GPKG",
            geometry_type="MultiPolygon",
            crs=self.crs,
            append=self.started,
            **({} if self.started else {"dataset_options": GPKG_OPTIONS}),
        )
        self.started = True
