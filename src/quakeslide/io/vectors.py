"""Mask -> landslide polygons with area, written as GeoPackage."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyogrio.raw
import shapely
import shapely.affinity
from rasterio.crs import CRS
from rasterio.warp import transform_geom

from quakeslide.io.raster import atomic_path
from quakeslide.io.regions import Region, iter_regions


@dataclass(frozen=True)
class Landslide:
    id: int
    geometry: shapely.Geometry  # in the scene CRS (or pixel grid without one)
    area_px: float
    area_m2: float  # NaN when the pixel size is unknown (plain image without --pixel-size)
    perimeter_m: float
    mean_probability: float

    @property
    def centroid(self) -> tuple[float, float]:
        c = self.geometry.centroid
        return c.x, c.y


def polygonize(
    mask: np.ndarray,
    probability: np.ndarray,
    transform,
    crs: CRS | None,
    min_area_m2: float = 0.0,
    pixel_size: float | None = None,
    band_rows: int | None = None,
) -> list[Landslide]:
    """Landslides of in-memory arrays, polygonised in bands of `band_rows` (default: one)."""
    height = mask.shape[0]

    def read_band(row0: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
        return mask[row0 : row0 + rows] > 0, probability[row0 : row0 + rows]

    regions = iter_regions(read_band, height, band_rows or max(height, 1))
    return to_landslides(regions, transform, crs, min_area_m2, pixel_size)


def to_landslides(
    regions: Iterable[Region],
    transform,
    crs: CRS | None,
    min_area_m2: float = 0.0,
    pixel_size: float | None = None,
) -> list[Landslide]:
    """One polygon per 4-connected region, with metric area and mean probability.

    Areas are metres squared for projected CRSs; for geographic CRSs each polygon is
    measured in its local UTM zone, so the figures stay in metres. Without a CRS they are
    in metres only with `pixel_size`; `min_area_m2` then filters on pixels instead.
    """
    to_world = (transform.a, transform.b, transform.d, transform.e, transform.xoff, transform.yoff)
    landslides = []
    for region in regions:
        pixel_geometry = region.geometry()
        geometry = shapely.affinity.affine_transform(pixel_geometry, to_world)
        if crs is not None:
            metric = _to_metric(geometry, crs)
        elif pixel_size is not None:
            metric = shapely.affinity.scale(pixel_geometry, pixel_size, pixel_size, origin=(0, 0))
        else:
            metric = None
        area = float(metric.area) if metric is not None else float("nan")
        if (area if metric is not None else pixel_geometry.area) < min_area_m2:
            continue
        landslides.append(
            Landslide(
                id=len(landslides) + 1,
                geometry=geometry,
                area_px=float(pixel_geometry.area),
                area_m2=area,
                perimeter_m=float(metric.length) if metric is not None else float("nan"),
                mean_probability=region.mean_probability,
            )
        )
    return landslides


def _to_metric(geom: shapely.Geometry, crs: CRS | None) -> shapely.Geometry:
    """The polygon in metres: projected CRSs scaled by their unit, geographic ones in UTM."""
    if crs is None:
        return geom
    if not crs.is_geographic:
        metres = crs.linear_units_factor[1]
        return (
            geom if metres == 1.0 else shapely.affinity.scale(geom, metres, metres, origin=(0, 0))
        )
    lon, lat = geom.centroid.x, geom.centroid.y
    zone = min(int((lon + 180) // 6) + 1, 60)
    utm = CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)
    return shapely.geometry.shape(transform_geom(crs, utm, geom.__geo_interface__))


def write_landslides(path: Path, landslides: list[Landslide], crs: CRS | None) -> Path:
    """Write polygons with id, area_px, area_m2, perimeter_m, centroid_x/y, mean_prob (GPKG)."""
    geometries = np.array(
        [shapely.to_wkb(shapely.geometry.MultiPolygon([ls.geometry])) for ls in landslides],
        dtype=object,
    )
    fields = ["id", "area_px", "area_m2", "perimeter_m", "centroid_x", "centroid_y", "mean_prob"]
    field_data = [
        np.array([ls.id for ls in landslides], dtype=np.int64),
        np.array([ls.area_px for ls in landslides], dtype=np.float64),
        np.array([ls.area_m2 for ls in landslides], dtype=np.float64),
        np.array([ls.perimeter_m for ls in landslides], dtype=np.float64),
        np.array([ls.centroid[0] for ls in landslides], dtype=np.float64),
        np.array([ls.centroid[1] for ls in landslides], dtype=np.float64),
        np.array([ls.mean_probability for ls in landslides], dtype=np.float64),
    ]
    with atomic_path(path) as tmp:
        pyogrio.raw.write(
            tmp,
            geometries,
            field_data,
            fields,
            layer="landslides",
            driver="GPKG",
            geometry_type="MultiPolygon",
            crs=crs.to_wkt() if crs is not None else None,
        )
    return Path(path)
