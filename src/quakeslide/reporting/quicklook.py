"""Quicklook PNG: a downsampled scene with landslide outlines drawn on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from rasterio.transform import rowcol

from quakeslide.io.raster import atomic_path
from quakeslide.io.scene import open_scene_reader
from quakeslide.io.vectors import Landslide

MAX_SIDE = 1600
OUTLINE = (255, 0, 0)


def write_quicklook(
    scene: Path, bands: list[int] | None, landslides: list[Landslide], out: Path
) -> Path:
    """Read the scene decimated (never whole) and outline every landslide polygon in red."""
    with open_scene_reader(scene, bands) as reader:
        image = reader.read_decimated(MAX_SIDE)
        scale = image.shape[1] / reader.height
        transform = reader.transform
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
