"""Quicklook PNG: a downsampled scene with landslide outlines drawn on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely
from affine import Affine
from PIL import Image, ImageDraw

from quakeslide.io.raster import atomic_path
from quakeslide.io.styles import OUTLINE_RGBA
from quakeslide.io.vectors import Landslide

MAX_SIDE = 1600
PNG_LEVEL = 1  # zlib level: 4x faster to encode than the default, files ~15 % larger


class Outlines:
    """Landslide outlines drawn onto a transparent layer as the landslides stream by.

    `scale` is picture pixels per scene pixel (rows, columns); `transform` maps scene
    pixels to the landslides' coordinates. Only the layer is kept, not the polygons.
    """

    def __init__(self, height: int, width: int, transform: Affine, scale: tuple[float, float]):
        self.layer = Image.new("L", (width, height), 0)
        self.draw = ImageDraw.Draw(self.layer)
        self.transform, self.scale = transform, scale

    def add(self, landslides: list[Landslide]) -> None:
        for outline in picture_outlines(landslides, self.transform, self.scale):
            self.draw.line(outline.ravel().tolist(), fill=255, width=2)

    def over(self, picture: np.ndarray) -> Image.Image:
        """`picture` (bands, h, w) as RGB with the outlines on top, in the GeoPackage's
        outline colour."""
        pixels = np.moveaxis(picture, 0, -1).astype(np.uint8)
        image = Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels)
        image = image.convert("RGB")
        image.paste(OUTLINE_RGBA[:3], mask=self.layer)
        return image


def save_quicklook(image: Image.Image, out: Path) -> Path:
    """PNG, written atomically. Pillow's encoder releases the GIL: it can run in a thread."""
    with atomic_path(out) as tmp:
        image.save(tmp, format="PNG", compress_level=PNG_LEVEL)
    return out


def picture_outlines(
    landslides: list[Landslide], transform: Affine, scale: tuple[float, float]
) -> list[np.ndarray]:
    """Exterior rings of all landslides as (n, 2) picture (x, y) arrays, in one vector pass."""
    if not landslides:
        return []
    parts = shapely.get_parts(np.array([ls.geometry for ls in landslides], dtype=object))
    coords, ring = shapely.get_coordinates(shapely.get_exterior_ring(parts), return_index=True)
    to_pixels = ~transform
    cols = to_pixels.a * coords[:, 0] + to_pixels.b * coords[:, 1] + to_pixels.c
    rows = to_pixels.d * coords[:, 0] + to_pixels.e * coords[:, 1] + to_pixels.f
    points = np.column_stack([cols * scale[1], rows * scale[0]])
    return np.split(points, np.flatnonzero(np.diff(ring)) + 1)
