"""Whole-scene prediction: probability and mask GeoTIFFs, landslide polygons, summary."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.io import DatasetWriter
from rasterio.windows import Window

from quakeslide.area_classes import AREA_CLASSES, area_class, class_bounds
from quakeslide.errors import InputError
from quakeslide.folders import PredictionOutputs
from quakeslide.inference.engines import Engine
from quakeslide.inference.pipeline import run_behind
from quakeslide.inference.sliding import RowBand, predict_rows
from quakeslide.inventory.figures import event_figures
from quakeslide.io.raster import (
    atomic_path,
    band_pass_cache_mb,
    copy_as_cog,
    geotiff_profile,
    scratch_path,
    with_bounded_gdal_cache,
)
from quakeslide.io.regions import BandRegions, Region
from quakeslide.io.scene import SceneReader, open_scene_reader
from quakeslide.io.styles import (
    MASK_DESCRIPTION,
    PROBABILITY_DESCRIPTION,
    add_default_style,
    crs_pam_xml,
    mask_pam_xml,
    mask_qml,
    outline_qml,
    probability_qml,
    world_file_text,
)
from quakeslide.io.vectors import LandslideWriter, iter_landslides
from quakeslide.options import InventoryOptions, Separation, named
from quakeslide.records import PredictionSummary
from quakeslide.reporting.quicklook import MAX_SIDE, Outlines, save_quicklook
from quakeslide.reporting.thumbnail import Thumbnail

MASK_NODATA = 255
PROB_MAX = 254  # probability 1 as written; 0..1 read through the band's scale 1 / 254
PROB_NODATA = 255


@with_bounded_gdal_cache
def predict_scene(
    engine: Engine,
    scene: Path,
    out_dir: Path,
    threshold: float = 0.5,
    min_area_m2: float = 0.0,
    tile: int = 256,
    overlap: int | None = None,
    batch_size: int = 8,
    bands: list[int] | None = None,
    pixel_size: float | None = None,
    separation: Separation = "shape",
) -> PredictionOutputs:
    """Map landslides over a whole scene; outputs share the scene's CRS and transform.

    Each finished band of rows is written, polygonised and averaged into the quicklook by
    a worker thread while the next band is predicted. GDAL's block cache is sized to two
    rows of blocks (`band_pass_cache_mb`): its default, 5 % of RAM, grows with the scene
    (measured: +1 GB at 16000 px).

    GDAL raster reads (main thread) and writes (worker) never run at the same time: one
    thread filling the shared block cache flushes the other's dirty blocks, which crashed
    about one scene in ten (segfault or "error while writing a dirty block") before the
    lock. The model's forward pass, labelling and polygonising still overlap the I/O.
    """
    scene, out_dir = Path(scene), Path(out_dir)
    overlap = tile // 4 if overlap is None else overlap
    if tile < 32 or not 0 <= overlap < tile:
        raise InputError(
            f"window {tile} px with overlap {overlap}: need tile >= 32, 0 <= overlap < tile"
        )
    outputs = PredictionOutputs.for_scene(scene, out_dir)
    expected = engine.bands
    with open_scene_reader(scene, bands) as reader:
        if len(reader.bands) != expected:
            raise InputError(
                f"{scene}: {len(reader.bands)} band(s) used, the model expects {expected}"
                f" (choose with {named('bands')})"
            )
        grid = {"height": reader.height, "width": reader.width, "crs": reader.crs,
                "transform": reader.transform if reader.georeferenced else None}  # fmt: skip
        with contextlib.ExitStack() as stack:
            cache_mb = band_pass_cache_mb(reader.rows_bytes(tile), reader.width, outputs=3)
            stack.enter_context(rasterio.Env(GDAL_CACHEMAX=cache_mb))
            # renamed into place in the reverse order: the summary first (a stopped run's
            # files are known as its own by the summary beside them), the rasters last
            later = ("landslides", "quicklook", "probability_style", "mask_style",
                     "mask_categories", "quicklook_world", "quicklook_crs", "summary")  # fmt: skip
            final_tmp = replace(
                outputs, **{name: stack.enter_context(atomic_path(getattr(outputs, name)))
                            for name in ("probability", "mask", *later)},
            )  # fmt: skip
            # streamed into scratch files, then copied as COGs into place
            prob_stream = stack.enter_context(scratch_path(outputs.probability))
            mask_stream = stack.enter_context(scratch_path(outputs.mask))
            prob_dst = stack.enter_context(
                rasterio.open(prob_stream, "w", **geotiff_profile(grid, 1, "uint8", PROB_NODATA))
            )
            mask_dst = stack.enter_context(
                rasterio.open(mask_stream, "w", **geotiff_profile(grid, 1, "uint8", MASK_NODATA))
            )
            describe_rasters(prob_dst, mask_dst)
            raster_io = threading.Lock()

            def read(window: Window) -> tuple[np.ndarray, np.ndarray]:
                with raster_io:
                    return reader.read(window)

            bands_out = predict_rows(
                read, reader.height, reader.width, engine.predict, tile, overlap, batch_size
            )
            thumbnail = Thumbnail(reader.height, reader.width, len(reader.bands), MAX_SIDE)

            outlines = Outlines(thumbnail.out_h, thumbnail.out_w, reader.transform, thumbnail.scale)
            polygons = LandslideWriter(final_tmp.landslides, reader.crs)
            sink = BandSink(
                reader, prob_dst, mask_dst, threshold, thumbnail, raster_io, outlines, polygons,
                min_area_m2, pixel_size, separation,
            )  # fmt: skip
            area_px, area_m2 = run_behind(bands_out, sink.consume, depth=1)
            polygons.finish()
            add_default_style(final_tmp.landslides, "landslides", "geom", outline_qml())
            summary = inventory_summary(
                reader.path, area_px, area_m2, threshold, separation, engine.description
            )
            final_tmp.summary.write_text(summary.to_json())
            write_styles(final_tmp, threshold, reader.transform, thumbnail.scale, reader.crs)
            quicklook = outlines.over(thumbnail.picture())
            with ThreadPoolExecutor(1) as pool:
                # the PNG encoder runs without the GIL; rasterio's overviews hold it, so
                # anything else in Python waits for them (measured: 0.2 s of 6 s at 4000 px)
                png = pool.submit(save_quicklook, quicklook, final_tmp.quicklook)
                with rasterio.Env(GDAL_NUM_THREADS=2):  # 1.6x faster overviews
                    levels = overview_levels(reader.height, reader.width)
                    prob_dst.build_overviews(levels, Resampling.average)
                    mask_dst.build_overviews(levels, Resampling.nearest)
                prob_dst.close()
                mask_dst.close()
                copy_as_cog(prob_stream, final_tmp.probability)
                copy_as_cog(mask_stream, final_tmp.mask)
                png.result()
    return outputs


def overview_levels(height: int, width: int) -> list[int]:
    """2, 4, 8, 16 while the overview stays at least 2 px on its long side (none for a
    scene of a few pixels: GDAL refuses several 1 x 1 overviews)."""
    return [f for f in (2, 4, 8, 16) if max(height, width) // f >= 2]


def describe_rasters(prob_dst: DatasetWriter, mask_dst: DatasetWriter) -> None:
    """Band descriptions; probability read as 0..1 through its scale (the mask's names and
    colours: its PAM sidecar, `write_styles`)."""
    prob_dst.set_band_description(1, PROBABILITY_DESCRIPTION)
    prob_dst.scales = (1 / PROB_MAX,)
    prob_dst.offsets = (0.0,)
    mask_dst.set_band_description(1, MASK_DESCRIPTION)


def write_styles(
    outputs: PredictionOutputs,
    threshold: float,
    transform: Affine,
    scale: tuple[float, float],
    crs: CRS | None,
) -> None:
    """The QGIS styles of both rasters, the mask's names and colours, the quicklook's world
    file and CRS."""
    outputs.probability_style.write_text(probability_qml(threshold))
    outputs.mask_style.write_text(mask_qml())
    outputs.mask_categories.write_text(mask_pam_xml())
    outputs.quicklook_world.write_text(world_file_text(transform, scale))
    outputs.quicklook_crs.write_text(crs_pam_xml(crs.to_wkt() if crs else None))


@dataclass
class BandSink:
    """The worker thread's side of predict: write each band of rows, polygonise it, and
    stream each chunk of landslides to the GeoPackage and the quicklook as soon as it is
    built; only their areas stay (memory independent of the count)."""

    grid: SceneReader  # height, transform and CRS only: the main thread reads the scene
    prob_dst: DatasetWriter
    mask_dst: DatasetWriter
    threshold: float
    thumbnail: Thumbnail
    raster_io: threading.Lock
    outlines: Outlines
    polygons: LandslideWriter
    min_area_m2: float
    pixel_size: float | None
    separation: Separation

    def consume(self, bands: Iterator[RowBand]) -> tuple[np.ndarray, np.ndarray]:
        """All bands, top to bottom -> the landslides' areas in pixels and in m2."""
        prob, mask = self.prob_dst, self.mask_dst
        written = write_bands(bands, prob, mask, self.threshold, self.thumbnail, self.raster_io)
        regions = band_regions(written, self.grid.height, self.separation)
        areas: list[tuple[float, float]] = []
        for chunk in iter_landslides(
            regions, self.grid.transform, self.grid.crs, self.min_area_m2, self.pixel_size
        ):
            with self.raster_io:  # GDAL again (OGR): one thread at a time
                self.polygons.write(chunk)
            self.outlines.add(chunk)
            areas += [(ls.area_px, ls.area_m2) for ls in chunk]
        area_px, area_m2 = np.array(areas, dtype=np.float64).reshape(-1, 2).T
        return area_px, area_m2


def write_bands(
    bands: Iterable[RowBand],
    prob_dst,
    mask_dst,
    threshold: float,
    thumbnail: Thumbnail,
    raster_io: threading.Lock,
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Write each band to the probability and mask rasters; yield (row, mask, probability).

    The writes hold `raster_io`, the lock that keeps GDAL I/O to one thread at a time.

    The yielded probability is the written value / `PROB_MAX`, so the polygons' mean
    probability matches what a GIS reads from `_prob.tif`. Outside the scene's valid pixels
    both rasters hold their nodata value (a nodata value, not an internal mask, which QGIS
    would show as a second band).
    """
    for band in bands:
        window = Window(0, band.row, band.probability.shape[1], band.probability.shape[0])
        level = np.round(band.probability * PROB_MAX).astype(np.uint8)
        prob = np.where(band.valid, level, PROB_NODATA).astype(np.uint8)
        landslide = (band.probability >= threshold) & band.valid
        mask = np.where(band.valid, landslide, MASK_NODATA).astype(np.uint8)
        with raster_io:
            prob_dst.write(prob, 1, window=window)
            mask_dst.write(mask, 1, window=window)
        thumbnail.add(band.row, band.image)
        yield band.row, landslide, level.astype(np.float32) / PROB_MAX


def band_regions(
    bands: Iterable[tuple[int, np.ndarray, np.ndarray]], height: int, separation: Separation
) -> Iterator[Region]:
    """Regions of (row, mask, probability) bands covering rows 0..height top to bottom,
    touching landslides kept apart by `separation`."""
    builder = BandRegions(separation)
    for row, mask, probability in bands:
        yield from builder.add(mask, probability, row, last=row + mask.shape[0] >= height)


def inventory_summary(
    scene: Path,
    area_px: np.ndarray,
    area_m2: np.ndarray,
    threshold: float,
    separation: Separation,
    engine: dict,
) -> PredictionSummary:
    """Count and areas; in m2 where the pixel size is known, else in pixels (`area_unit`);
    with m2, the scene's figures as an event inventory (fits, mLS, volume)."""
    metric = bool(np.isfinite(area_m2).all())
    unit = "m2" if metric else "px"
    areas = area_m2 if metric else area_px
    classes = {name: 0 for name in AREA_CLASSES[unit]}
    for area in areas:
        classes[area_class(float(area), unit)] += 1
    return PredictionSummary(
        scene=str(scene),
        count=len(areas),
        area_unit=unit,
        total_area_px=float(area_px.sum()),
        total_area_m2=float(areas.sum()) if metric else None,
        largest_area=float(areas.max()) if len(areas) else 0.0,
        area_classes=class_bounds(unit),
        area_histogram=classes,
        threshold=threshold,
        separation=separation,
        event=event_figures([scene.name], areas, InventoryOptions().volume) if metric else None,
        **engine,
    )
