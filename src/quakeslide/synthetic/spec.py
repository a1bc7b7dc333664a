"""What a synthetic scene holds (`SceneSpec`) and what writing one gave (`SyntheticScene`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rasterio.transform import Affine, from_origin

from quakeslide.errors import InputError


@dataclass(frozen=True)
class SceneSpec:
    """What to generate.

    ``landslide_density`` is the areal density (fraction of the scene covered by landslide
    scars) that placement aims for; the realised fraction is reported by :func:`make_scene`.
    Landslide areas are log-uniform between ``min_landslide_area`` and ``max_landslide_area``,
    the latter capped at 3 % of the scene area so that small scenes hold several landslides.
    ``roads`` and ``houses`` are counts; ``None`` scales them with the scene area (1.5 roads
    and 30 houses per km2, at least two roads and six houses). ``farmland`` adds terraced
    fields around most house clusters, some of them bare tilled soil.
    """

    height: int = 2048
    width: int = 2048
    seed: int = 0
    pixel_size: float = 0.61
    crs: str = "EPSG:32648"
    origin: tuple[float, float] = (330000.0, 3440000.0)
    landslide_density: float = 0.11
    min_landslide_area: float = 50.0
    max_landslide_area: float = 20000.0
    river: bool = True
    roads: int | None = None
    houses: int | None = None
    farmland: bool = True

    def __post_init__(self) -> None:
        if self.height < 64 or self.width < 64:
            raise InputError("scenes must be at least 64 x 64 pixels")
        if self.pixel_size <= 0:
            raise InputError("pixel_size must be positive")
        if not 0.0 <= self.landslide_density <= 0.5:
            raise InputError("landslide_density is a fraction of the scene area in [0, 0.5]")
        if not 0 < self.min_landslide_area < self.max_landslide_area:
            raise InputError("need 0 < min_landslide_area < max_landslide_area")

    @property
    def transform(self) -> Affine:
        return from_origin(self.origin[0], self.origin[1], self.pixel_size, self.pixel_size)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) in CRS units."""
        x0, y0 = self.origin
        return (x0, y0 - self.height * self.pixel_size, x0 + self.width * self.pixel_size, y0)

    @property
    def area_km2(self) -> float:
        return self.height * self.width * self.pixel_size**2 / 1e6

    @property
    def n_roads(self) -> int:
        return self.roads if self.roads is not None else max(2, round(1.5 * self.area_km2))

    @property
    def n_houses(self) -> int:
        return self.houses if self.houses is not None else max(6, round(30 * self.area_km2))


@dataclass(frozen=True)
class SyntheticScene:
    image_path: Path
    mask_path: Path
    polygons_path: Path
    labelme_path: Path
    inventory_path: Path
    n_landslides: int  # truth polygons, touching scars unioned
    n_scars: int  # landslides in the truth inventory, one per scar
    landslide_fraction: float
    n_roads: int
    n_houses: int
    river: bool
