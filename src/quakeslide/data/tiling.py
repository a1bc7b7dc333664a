"""Scenes + landslide labels -> dataset folder of image / mask tiles (DESIGN.md contract).

Scenes are read by windows (bounded memory); edge tiles are padded to full size (padding
is nodata, its mask is 255 = ignore) and flagged; tiles with no valid pixel are skipped.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image
from rasterio.windows import Window
from rasterio.windows import bounds as window_bounds
from rasterio.windows import transform as window_transform
from tqdm import tqdm

from quakeslide.classes import CLASS_NAMES, IGNORE
from quakeslide.data.positions import TilePosition
from quakeslide.errors import InputError
from quakeslide.folders import DatasetFolder
from quakeslide.io.label_sources import detect_label_format, open_labels
from quakeslide.io.labelme import check_labelme_image, labelme_image_data
from quakeslide.io.labels import PolygonLabels, read_vector_labels
from quakeslide.io.raster import (
    bounded_gdal_cache,
    expand_scenes,
    geotiff_profile,
    refuse_duplicate_stems,
    remove_stale,
    writable_folder,
)
from quakeslide.io.scene import SceneReader, open_scene_reader
from quakeslide.options import TileOptions, named

log = logging.getLogger(__name__)

TILE_FIELDS = [
    "stem",
    "scene",
    "row",
    "col",
    "height",
    "width",
    "crs",
    "transform",
    "landslide_fraction",
    "block",
    "padded",
    "valid_fraction",
]
BLOCK_TILES = 4  # tiles per side of a spatial block used to group folds


@dataclass
class TilingResult:
    dataset: Path
    tiles: int = 0
    landslide_tiles: int = 0
    counts: dict[str, int] = field(default_factory=dict)


def tile_starts(length: int, size: int, stride: int) -> list[int]:
    """Starts at multiples of `stride`, as long as a window still adds uncovered pixels."""
    return [s for s in range(0, length, stride) if s == 0 or s - stride + size < length]


def tile_scenes(
    scenes: list[Path],
    labels: Path,
    out: Path,
    options: TileOptions | None = None,
    progress: bool = True,
) -> TilingResult:
    """Cut scenes into tiles with masks from `labels`.

    The dataset is built in a temporary folder beside `out` and renamed at the end, so a
    failure or an interrupted run leaves no partial dataset.
    """
    out = Path(out)
    options = options or TileOptions()
    if out.exists():
        raise InputError(f"{out}: output dataset already exists")
    writable_folder(out.parent)
    remove_stale(out.parent, f".{out.name}.")  # work folders a killed tile left
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        folder = DatasetFolder(work)
        folder.images.mkdir()
        folder.masks.mkdir()
        if scenes:  # folders stand for the rasters in them, as for predict
            scenes = expand_scenes([Path(s) for s in scenes])
        else:
            scenes = scenes_from_labelme(Path(labels), work / ".embedded")
            refuse_duplicate_stems(scenes)
        rows: list[dict] = []
        sources: list[dict] = []
        with bounded_gdal_cache():
            for scene in map(Path, scenes):
                sources.append(_tile_one(scene, Path(labels), work, options, rows, progress))
        if not any(r["landslide_fraction"] > 0 for r in rows):
            raise InputError(f"{labels}: no landslide pixel falls inside the scene(s)")
        shutil.rmtree(work / ".embedded", ignore_errors=True)
        dropped = _drop_empty(work, rows, options)
        counts = _write_index(work, rows, sources, labels, options, dropped)
        work.rename(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return TilingResult(out, len(rows), counts["landslide_tiles"], counts)


def scenes_from_labelme(labels: Path, holding: Path) -> list[Path]:
    """The images Labelme files name (imagePath), or their embedded imageData saved to `holding`."""
    if detect_label_format(labels) != "labelme":
        raise InputError(f"{labels}: no scene given, and only Labelme labels name their images")
    scenes = []
    for json_path in sorted(labels.glob("*.json")) if labels.is_dir() else [labels]:
        image = check_labelme_image(json_path)
        if image is None:
            data = labelme_image_data(json_path)
            try:
                suffix = "." + Image.open(io.BytesIO(data)).format.lower()
            except OSError as err:
                raise InputError(f"{json_path}: imageData is not an image ({err})") from err
            holding.mkdir(exist_ok=True)
            image = holding / f"{json_path.stem}{suffix}"
            image.write_bytes(data)
        scenes.append(image)
    return scenes


def _tile_one(
    scene: Path,
    labels: Path,
    work: Path,
    options: TileOptions,
    rows: list[dict],
    progress: bool,
) -> dict:
    size = options.size
    stride = options.stride or size
    with open_scene_reader(scene, options.bands) as reader:
        source, label_kind = open_labels(
            labels,
            scene,
            reader,
            options.label_format,
            options.label_names,
            options.mask_encoding,
            options.mask_color,
            options.assume_crs,
        )
        reviewed = _reviewed_areas(options.extent, scene, reader) if options.extent else None
        windows = [
            (r, c)
            for r in tile_starts(reader.height, size, stride)
            for c in tile_starts(reader.width, size, stride)
        ]
        skipped = 0
        for r, c in tqdm(windows, desc=f"tiling {scene.name}", unit="tile", disable=not progress):
            row = _write_tile(reader, source, reviewed, scene, work, r, c, size)
            if row is None:
                skipped += 1
            else:
                rows.append(row)
        if skipped:
            log.info("%s: %d tile(s) with no valid, reviewed pixel skipped", scene, skipped)
        return {
            "scene": str(scene),
            "labels": label_kind,
            "bands": reader.bands,
            "stretch": reader.stretch.to_dict() if reader.stretch else None,
            "crs": reader.crs.to_string() if reader.crs else None,
            "size": [reader.height, reader.width],
            "nodata_tiles_skipped": skipped,
        }


def _reviewed_areas(extent: Path, scene: Path, reader: SceneReader) -> PolygonLabels:
    """The reviewed areas in the scene's CRS; an InputError when none reaches the scene."""
    bounds = window_bounds(Window(0, 0, reader.width, reader.height), reader.transform)
    areas = read_vector_labels(extent, reader.crs, bounds)
    if not len(areas):
        raise InputError(f"{extent}: no reviewed area ({named('extent')}) lies on {scene.name}")
    return areas


def _write_tile(
    reader: SceneReader,
    source,
    reviewed: PolygonLabels | None,
    scene: Path,
    work: Path,
    row: int,
    col: int,
    size: int,
) -> dict | None:
    """One tile and its mask (None: no valid pixel, or none reviewed)."""
    window = Window(col, row, size, size)
    image, valid = reader.read(window, pad_to=(size, size))
    inner_h, inner_w = min(size, reader.height - row), min(size, reader.width - col)
    inner = Window(col, row, inner_w, inner_h)
    if reviewed is not None:
        inside = np.zeros((size, size), bool)
        inside[:inner_h, :inner_w] = reviewed.mask(inner, reader.transform) == 1
        valid = valid & inside
    if not valid.any():
        return None
    mask = np.full((size, size), IGNORE, np.uint8)
    mask[:inner_h, :inner_w] = source.mask(inner, reader.transform)
    mask[~valid] = IGNORE
    stem = f"{scene.stem}_{row}_{col}"
    folder = DatasetFolder(work)
    transform = window_transform(window, reader.transform)
    if reader.georeferenced:
        reference = {"height": size, "width": size, "crs": reader.crs, "transform": transform}
        profile = geotiff_profile(reference, image.shape[0], "uint8", None)
        with rasterio.open(folder.image(stem, ".tif"), "w", **profile) as dst:
            dst.write(image)
    else:
        pixels = np.moveaxis(image, 0, -1)
        Image.fromarray(pixels[..., 0] if image.shape[0] == 1 else pixels).save(
            folder.image(stem, ".png")
        )
    Image.fromarray(mask).save(folder.mask(stem))
    labelled = mask != IGNORE
    position = TilePosition(scene.stem, row, col, size, size)
    return {
        "stem": stem,
        "scene": scene.stem,
        "row": row,
        "col": col,
        "height": size,
        "width": size,
        "crs": reader.crs.to_string() if reader.crs else "",
        "transform": ",".join(f"{v:.6f}" for v in tuple(transform)[:6]),
        "landslide_fraction": float((mask == 1).sum() / max(labelled.sum(), 1)),
        "block": position.block(size * BLOCK_TILES),
        "padded": int(inner_h < size or inner_w < size),
        "valid_fraction": round(float(valid.mean()), 6),
    }


def _drop_empty(work: Path, rows: list[dict], options: TileOptions) -> int:
    """Keep at most `keep_empty` landslide-free tiles per landslide tile (seeded choice)."""
    if options.keep_empty is None:
        return 0
    empty = [i for i, r in enumerate(rows) if r["landslide_fraction"] == 0]
    n_landslide = len(rows) - len(empty)
    keep = min(len(empty), int(options.keep_empty * n_landslide))
    rng = np.random.default_rng(options.seed)
    kept = set(rng.choice(empty, size=keep, replace=False).tolist()) if keep else set()
    dropped = [i for i in empty if i not in kept]
    for i in dropped:
        stem = rows[i]["stem"]
        folder = DatasetFolder(work)
        for path in (*folder.images.glob(f"{stem}.*"), folder.mask(stem)):
            path.unlink()
    for i in reversed(dropped):
        del rows[i]
    return len(dropped)


def _write_index(
    work: Path,
    rows: list[dict],
    sources: list[dict],
    labels: Path,
    options: TileOptions,
    dropped: int,
) -> dict[str, int]:
    """Write tiles.csv and dataset.json; return the tile counts."""
    with open(DatasetFolder(work).tiles_csv, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=TILE_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    settings = options.model_dump(mode="json")
    settings["label_names"] = sorted(options.label_names) if options.label_names else None
    summary = {
        "source": {"scenes": sources, "labels": str(labels)},
        "label_encoding": {**{name: i for i, name in enumerate(CLASS_NAMES)}, "ignore": IGNORE},
        "tile_size": options.size,
        "stride": options.stride or options.size,
        "stretch_rule": "8-bit scenes as they are; others: linear per-band percentile stretch "
        "(low -> 0, high -> 255, clipped), low/high stored per scene under source.scenes",
        "options": settings,
        "counts": {
            "tiles": len(rows),
            "landslide_tiles": sum(r["landslide_fraction"] > 0 for r in rows),
            "padded_tiles": sum(r["padded"] for r in rows),
            "empty_tiles_dropped": dropped,
            "nodata_tiles_skipped": sum(s["nodata_tiles_skipped"] for s in sources),
        },
    }
    DatasetFolder(work).info.write_text(json.dumps(summary, indent=2))
    return summary["counts"]
