"""Quicklook PNG: a downsampled scene with landslide outlines drawn on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from PIL import Image, ImageDraw
from rasterio.enums import Resampling
from rasterio.transform import rowcol

from quakeslide.io.raster import atomic_path
from quakeslide.io.vectors import Landslide

MAX_SIDE = 1600
OUTLINE = (255, 0, 0)


def write_quicklook(scene: Path, landslides: list[Landslide], out: Path) -> Path:
    """Read the scene decimated (never whole) and outline every landslide polygon in red."""
    with rasterio.open(scene) as src:
        scale = min(1.0, MAX_SIDE / max(src.height, src.width))
        shape = (max(1, round(src.height * scale)), max(1, round(src.width * scale)))
        bands = [1, 2, 3] if src.count >= 3 else [1]
        image = src.read(bands, out_shape=(len(bands), *shape), resampling=Resampling.average)
        transform = src.transform
    picture = Image.fromarray(np.moveaxis(image, 0, -1).squeeze().astype(np.uint8)).convert("RGB")
    draw = ImageDraw.Draw(picture)
    for landslide in landslides:
        polygons = getattr(landslide.geometry, "geoms", [landslide.geometry])
        for polygon in polygons:
            xs, ys = zip(*polygon.exterior.coords, strict=True)
            rows, cols = rowcol(transform, xs, ys, op=lambda v: v)
            draw.line(
                [(c * scale, r * scale) for c, r in zip(cols, rows, strict=True)],
                fill=OUTLINE,
                width=2,
            )
    with atomic_path(out) as tmp:
        picture.save(tmp, format="PNG")
    return out
