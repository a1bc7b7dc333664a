"""Mask -> landslide polygons with area, written as GeoPackage."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyogrio.raw
import shapely
import shapely.affinity
from rasterio.crs import CRS
from rasterio.features import shapes
from rasterio.warp import transform_geom
from scipy import ndimage

from quakeslide.io.raster import atomic_path

FOUR_CONNECTED = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]])


@dataclass(frozen=True)
class Landslide:
    id: int
    geometry: shapely.Geometry  # in the scene CRS (or pixel grid without one)
    area_m2: float
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
) -> list[Landslide]:
    """One polygon per 4-connected landslide region, with metric area and mean probability.

    Areas are metres squared for projected CRSs; for geographic CRSs each polygon is
    measured in its local UTM zone, so the figures stay in metres.
    """
    labels, count = ndimage.label(mask > 0, structure=FOUR_CONNECTED)
    if count == 0:
        return []
    index = np.arange(1, count + 1)
    mean_prob = ndimage.mean(probability.astype(np.float32), labels, index)
    landslides = []
    for geojson, value in shapes(labels.astype(np.int32), mask=labels > 0, transform=transform):
        geom = shapely.geometry.shape(geojson)
        metric = _to_metric(geom, crs)
        area = float(metric.area)
        if area < min_area_m2:
            continue
        landslides.append(
            Landslide(
                id=len(landslides) + 1,
                geometry=geom,
                area_m2=area,
                perimeter_m=float(metric.length),
                mean_probability=float(mean_prob[int(value) - 1]),
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
    """Write polygons with id, area_m2, perimeter_m, centroid_x/y, mean_prob to a GeoPackage."""
    geometries = np.array(
        [shapely.to_wkb(shapely.geometry.MultiPolygon([ls.geometry])) for ls in landslides],
        dtype=object,
    )
    fields = ["id", "area_m2", "perimeter_m", "centroid_x", "centroid_y", "mean_prob"]
    field_data = [
        np.array([ls.id for ls in landslides], dtype=np.int64),
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
