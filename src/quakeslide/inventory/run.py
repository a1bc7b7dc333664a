"""`quakeslide inventory`: an event's landslides counted, their size distribution fitted,
magnitude, volume and density maps, written to one folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyogrio
import rasterio
import shapely

from quakeslide.folders import InventoryFolder
from quakeslide.inventory.compare import compare_inventories
from quakeslide.inventory.density import DensityGrids, density_grids
from quakeslide.inventory.figures import event_figures
from quakeslide.inventory.sources import Inventory, in_crs, read_inventory
from quakeslide.inventory.statistics import (
    InverseGammaFit,
    frequency_density,
)
from quakeslide.inventory.volume import VOLUME_MODELS, volumes_m3
from quakeslide.io.raster import atomic_path, copy_as_cog, scratch_path, writable_folder
from quakeslide.io.styles import add_default_style, density_qml, outline_qml
from quakeslide.io.vectors import GPKG_OPTIONS
from quakeslide.options import InventoryOptions
from quakeslide.records import (
    InventoryRecord,
)
from quakeslide.reporting.fad_figure import plot_fad


def run_inventory(
    inputs: list[Path],
    out: Path,
    options: InventoryOptions | None = None,
    truth: list[Path] | None = None,
) -> InventoryRecord:
    """Read the polygons (pooled), fit and measure, write the folder; returns the record.
    A fit the inventory is too small for is refused, its reason in `refused`. `truth`:
    vector files or masks of the same event, compared in the prediction's CRS."""
    options = options or InventoryOptions()
    inventory = read_inventory(inputs)
    all_areas = inventory.areas_m2
    kept = (all_areas > 0) & (all_areas >= options.min_area)
    polygons, areas = inventory.polygons[kept], all_areas[kept]
    grids = density_grids(polygons, inventory.bounds, options.grid)
    reference = in_crs(read_inventory(truth), inventory.crs) if truth else None
    folder = InventoryFolder(writable_folder(Path(out)))
    figures = event_figures(inventory.sources, areas, options.volume)
    extra: dict = {}
    true_areas = reference.areas_m2 if reference is not None else None
    if reference is not None:
        true_kept = (true_areas > 0) & (true_areas >= options.min_area)
        true_areas = true_areas[true_kept]
        truth_figures = event_figures(reference.sources, true_areas, options.volume)
        exponents = (figures.tail.exponent if figures.tail else None,
                     truth_figures.tail.exponent if truth_figures.tail else None)  # fmt: skip
        compared = compare_inventories(polygons, reference.polygons[true_kept],
                                       inventory.bounds, exponents)  # fmt: skip
        extra = {"truth": truth_figures, "compare": compared}
    record = InventoryRecord(
        **figures.model_dump(),
        crs=inventory.crs.to_string(),
        grid_m=options.grid,
        min_area_m2=options.min_area,
        **extra,
    )
    _write_polygons(folder.landslides, polygons, areas, inventory, options.volume)
    _write_grids(folder, grids, inventory)
    if len(areas) >= 2:
        _plot(areas, record, folder.fad_png, true_areas)
    with atomic_path(folder.record) as tmp:
        tmp.write_text(record.to_json())
    return record


def _write_polygons(
    path: Path, polygons: np.ndarray, areas: np.ndarray, inventory: Inventory, volume: str
) -> None:
    """The landslides in the metric CRS with their area and volume (the law's central
    parameters), styled as predict's outlines."""
    with atomic_path(path) as tmp:
        pyogrio.raw.write(
            tmp, shapely.to_wkb(polygons),
            [np.arange(1, len(polygons) + 1), areas, volumes_m3(areas, VOLUME_MODELS[volume])],
            ["id", "area_m2", "volume_m3"], layer="landslides", driver="GPKG",
            geometry_type="Unknown", crs=inventory.crs.to_wkt(), dataset_options=GPKG_OPTIONS,
        )  # fmt: skip
        add_default_style(tmp, "landslides", "geom", outline_qml())


def _write_grids(folder: InventoryFolder, grids: DensityGrids, inventory: Inventory) -> None:
    for path, values, label in (
        (folder.number_density, grids.number_per_km2, "landslides / km2"),
        (folder.areal_density, grids.areal_percent, "% of ground"),
    ):
        profile = {"driver": "GTiff", "height": values.shape[0], "width": values.shape[1],
                   "count": 1, "dtype": "float32", "crs": inventory.crs,
                   "transform": grids.transform}  # fmt: skip
        with scratch_path(path) as scratch:
            with rasterio.open(scratch, "w", **profile) as dst:
                dst.write(values, 1)
                dst.set_band_description(1, label)
            with atomic_path(path) as tmp:
                copy_as_cog(scratch, tmp)
        path.with_suffix(".qml").write_text(density_qml(float(values.max()), label))


def _plot(areas: np.ndarray, record: InventoryRecord, path: Path, truth: np.ndarray | None) -> None:
    fad = frequency_density(areas)
    truth_fad = frequency_density(truth) if truth is not None and len(truth) >= 2 else None
    tail = None
    if record.tail:
        tail = (record.tail.exponent, record.tail.cutoff_m2, record.tail.n_tail / len(areas))
    curve = None
    if record.inverse_gamma:
        fit = record.inverse_gamma
        grid = np.logspace(np.log10(areas.min()), np.log10(areas.max()), 200)
        whole = InverseGammaFit(rho=fit.rho, a_m2=fit.a_m2, s_m2=fit.s_m2)
        curve = (grid, whole.density(grid))
    plot_fad(fad.centres_m2, fad.density, tail, curve, path, truth_fad)
