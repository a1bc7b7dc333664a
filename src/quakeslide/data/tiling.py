"""Scene + landslide polygons -> dataset folder of image / mask tiles (DESIGN.md contract)."""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image
from rasterio.windows import transform as window_transform
from tqdm import tqdm

from quakeslide.errors import InputError
from quakeslide.io.labels import read_vector_labels
from quakeslide.io.raster import geotiff_profile, grid_windows, open_scene

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
]
BLOCK_TILES = 4  # tiles per side of a spatial block used to group folds


@dataclass(frozen=True)
class TilingResult:
    dataset: Path
    tiles: int
    landslide_tiles: int


def tile_scene(
    scene: Path, labels: Path, out: Path, size: int = 256, stride: int | None = None
) -> TilingResult:
    """Cut `scene` into size x size tiles with masks burned from vector `labels`.

    The dataset is built in a temporary folder beside `out` and renamed at the end, so a
    failure leaves no partial dataset.
    """
    stride = stride or size
    out = Path(out)
    if out.exists():
        raise InputError(f"{out}: output dataset already exists")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        rows = _write_tiles(Path(scene), Path(labels), work, size, stride)
        if not any(r["landslide_fraction"] > 0 for r in rows):
            raise InputError(f"{labels}: no landslide pixel falls inside {scene}")
        _write_index(work, rows, scene, labels, size, stride)
        work.rename(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return TilingResult(out, len(rows), sum(r["landslide_fraction"] > 0 for r in rows))


def _write_tiles(scene: Path, labels: Path, work: Path, size: int, stride: int) -> list[dict]:
    (work / "images").mkdir()
    (work / "masks").mkdir()
    rows = []
    block_px = size * BLOCK_TILES
    with open_scene(scene) as src:
        polygons = read_vector_labels(labels, src.crs)
        windows = list(grid_windows(src.height, src.width, size, stride))
        for window in tqdm(windows, desc=f"tiling {scene.name}", unit="tile"):
            row, col = int(window.row_off), int(window.col_off)
            stem = f"{scene.stem}_{row}_{col}"
            image = src.read(window=window)
            mask = polygons.mask(window, src.transform)
            transform = window_transform(window, src.transform)
            reference = {
                "height": image.shape[1],
                "width": image.shape[2],
                "crs": src.crs,
                "transform": transform,
            }
            profile = geotiff_profile(reference, image.shape[0], str(image.dtype), None)
            with rasterio.open(work / "images" / f"{stem}.tif", "w", **profile) as dst:
                dst.write(image)
            Image.fromarray(mask).save(work / "masks" / f"{stem}.png")
            rows.append(
                {
                    "stem": stem,
                    "scene": scene.stem,
                    "row": row,
                    "col": col,
                    "height": image.shape[1],
                    "width": image.shape[2],
                    "crs": src.crs.to_string() if src.crs else "",
                    "transform": ",".join(f"{v:.6f}" for v in tuple(transform)[:6]),
                    "landslide_fraction": round(float(np.mean(mask == 1)), 6),
                    "block": f"{scene.stem}_{row // block_px}_{col // block_px}",
                }
            )
    return rows


def _write_index(work: Path, rows: list[dict], scene, labels, size: int, stride: int) -> None:
    with open(work / "tiles.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=TILE_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    summary = {
        "source": {"scenes": [str(scene)], "labels": str(labels)},
        "label_encoding": {"background": 0, "landslide": 1, "ignore": 255},
        "tile_size": size,
        "stride": stride,
        "counts": {
            "tiles": len(rows),
            "landslide_tiles": sum(r["landslide_fraction"] > 0 for r in rows),
        },
    }
    (work / "dataset.json").write_text(json.dumps(summary, indent=2))
