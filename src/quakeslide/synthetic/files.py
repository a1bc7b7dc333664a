"""Scene files: the GeoTIFF and truth mask written window by window, polygons, Labelme JSON."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyogrio.raw
import rasterio
import shapely
from rasterio.windows import Window
from shapely import MultiPolygon

from quakeslide.io.labelme import write_labelme
from quakeslide.io.raster import geotiff_profile
from quakeslide.io.vectors import GPKG_OPTIONS
from quakeslide.synthetic.layout import build_layout
from quakeslide.synthetic.render import render_window
from quakeslide.synthetic.spec import SceneSpec, SyntheticScene


def make_scene(
    out_dir: Path, name: str, spec: SceneSpec | None = None, *, block_size: int = 512
) -> SyntheticScene:
    """Write ``<name>.tif``, ``<name>_mask.tif``, ``<name>_landslides.gpkg``, ``<name>.json``
    and ``<name>_inventory.gpkg`` (the truth inventory: one polygon per scar, touching ones
    apart, where ``_landslides.gpkg`` unions touching scars as a mapper's mask would).

    The raster is rendered and written in ``block_size`` windows (keep it a multiple of the
    256 px GeoTIFF tile), so memory is bounded for any scene size.
    """
    spec = spec or SceneSpec()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    layout = build_layout(spec)
    image_path = out_dir / f"{name}.tif"
    mask_path = out_dir / f"{name}_mask.tif"
    grid = {
        "height": spec.height,
        "width": spec.width,
        "crs": spec.crs,
        "transform": spec.transform,
    }
    image_profile = geotiff_profile(grid, 3, "uint8", None)
    mask_profile = geotiff_profile(grid, 1, "uint8", None)
    positives = 0
    with (
        rasterio.open(image_path, "w", photometric="RGB", **image_profile) as img,
        rasterio.open(mask_path, "w", **mask_profile) as msk,
    ):
        for window in _windows(spec, block_size):
            rgb, mask = render_window(layout, window)
            img.write(rgb, window=window)
            msk.write(mask, 1, window=window)
            positives += int(mask.sum())
    polygons_path = out_dir / f"{name}_landslides.gpkg"
    _write_gpkg(polygons_path, layout.landslides, spec.crs)
    inventory_path = out_dir / f"{name}_inventory.gpkg"
    _write_gpkg(inventory_path, layout.inventory, spec.crs)
    labelme_path = out_dir / f"{name}.json"
    write_labelme(
        labelme_path, image_path.name, layout.landslides, spec.transform, spec.height, spec.width
    )
    return SyntheticScene(
        image_path=image_path,
        mask_path=mask_path,
        polygons_path=polygons_path,
        labelme_path=labelme_path,
        inventory_path=inventory_path,
        n_landslides=len(layout.landslides),
        n_scars=len(layout.inventory),
        landslide_fraction=positives / (spec.height * spec.width),
        n_roads=len(layout.roads),
        n_houses=len(layout.houses),
        river=layout.river is not None,
    )


def _windows(spec: SceneSpec, block: int) -> list[Window]:
    return [
        Window(c, r, min(block, spec.width - c), min(block, spec.height - r))
        for r in range(0, spec.height, block)
        for c in range(0, spec.width, block)
    ]


def _write_gpkg(path: Path, polygons: list[shapely.Geometry], crs: str) -> None:
    """One layer of polygons; multipolygons if any is in parts (a scar cut by another)."""
    path.unlink(missing_ok=True)
    kind = "Polygon" if all(p.geom_type == "Polygon" for p in polygons) else "MultiPolygon"
    if kind == "MultiPolygon":
        polygons = [p if p.geom_type == kind else MultiPolygon([p]) for p in polygons]
    pyogrio.raw.write(
        path,
        geometry=shapely.to_wkb(np.array(polygons, dtype=object)),
        field_data=[
            np.arange(1, len(polygons) + 1, dtype=np.int32),
            np.array([p.area for p in polygons], dtype=np.float64),
        ],
        fields=["id", "area_m2"],
        layer="landslides",
        driver="GPKG",
        geometry_type=kind,
        crs=crs,
        dataset_options=GPKG_OPTIONS,
    )
