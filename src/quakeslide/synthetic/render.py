"""Windowed rendering: one window of the scene as RGB pixels and its truth mask.

Every painter works on one `Canvas`: the window's pixels, their coordinates and the noise
keys, padded by a halo so the optical blur is seamless across windows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from rasterio.transform import Affine
from rasterio.windows import Window
from rasterio.windows import bounds as window_bounds
from rasterio.windows import transform as window_transform
from scipy.ndimage import gaussian_filter
from shapely import Polygon

from quakeslide.synthetic.layout import BurnLayer, SceneLayout
from quakeslide.synthetic.noise import (
    SENSOR_BANDS,
    Field,
    fbm,
    field_key,
    gaussian_noise,
    grid_noise,
    point_noise,
    smoothstep,
)
from quakeslide.synthetic.terrain import illumination

PAD = 3  # halo rendered around each window so the optical blur is seamless
BLUR_SIGMA = 0.6
HAZE = np.array([9.0, 11.0, 17.0], dtype=np.float32)
SENSOR_NOISE = 3.0  # DN, per band

FOREST = np.array([34.0, 56.0, 30.0], dtype=np.float32)
SHRUB = np.array([86.0, 100.0, 50.0], dtype=np.float32)
WATER_SHALLOW = np.array([112.0, 134.0, 128.0], dtype=np.float32)
WATER_DEEP = np.array([78.0, 110.0, 112.0], dtype=np.float32)
DRY = np.array([122.0, 117.0, 80.0], dtype=np.float32)  # sparse dry-valley grass and shrub


@dataclass
class Canvas:
    """The padded window being painted: (3, h, w) float pixels and where they lie."""

    rgb: np.ndarray
    rows: np.ndarray  # absolute pixel rows
    cols: np.ndarray  # absolute pixel columns
    x: np.ndarray  # metres east of the scene origin, per column
    y: np.ndarray  # metres north of the origin (negative in the scene), per row
    lit: np.ndarray  # (h, w) illumination of the terrain
    keys: dict[int, int]  # noise field -> hash key
    box: Polygon  # the padded window in CRS coordinates
    transform: Affine
    pixel_size: float

    @property
    def shape(self) -> tuple[int, int]:
        return self.lit.shape

    def burn(self, layer: BurnLayer) -> np.ndarray:
        return layer.burn(self.box, self.transform, self.shape)


def render_window(layout: SceneLayout, window: Window) -> tuple[np.ndarray, np.ndarray]:
    """RGB ``(3, h, w)`` uint8 and truth mask ``(h, w)`` uint8 of one window of the scene.

    A pixel's value does not depend on the window, so any tiling gives the same scene.
    """
    spec = layout.spec
    keys = {f: field_key(spec.seed, f) for f in range(Field.SENSOR + SENSOR_BANDS)}
    padded = Window(
        window.col_off - PAD, window.row_off - PAD, window.width + 2 * PAD, window.height + 2 * PAD
    )
    shape = (int(padded.height), int(padded.width))
    rows = np.arange(padded.row_off, padded.row_off + shape[0])
    cols = np.arange(padded.col_off, padded.col_off + shape[1])
    ps = spec.pixel_size
    x = (cols + 0.5) * ps
    y = -(rows + 0.5) * ps
    gx, gy = layout.relief.gradient_grid(x, y)
    lit = illumination(gx, gy)
    box = shapely.box(*window_bounds(padded, spec.transform))
    tr = window_transform(padded, spec.transform)
    canvas = Canvas(
        _vegetation(rows, cols, lit, keys, ps), rows, cols, x, y, lit, keys, box, tr, ps
    )

    _paint_fields(canvas, layout)
    _paint_scars(canvas, layout)
    _paint_river(canvas, layout)
    roads = canvas.burn(layout.road_layer)
    _paint_table(canvas, roads, layout.road_colours, 0.05, 0.7 / ps, keys[Field.ROAD])
    shadow = canvas.burn(layout.shadow_layer) > 0
    canvas.rgb[:, shadow] *= 0.42
    roofs = canvas.burn(layout.roof_layer)
    _paint_table(canvas, roofs, layout.roof_colours, 0.04, 1.5 / ps, keys[Field.ROOF])

    rgb = gaussian_filter(canvas.rgb, sigma=(0, BLUR_SIGMA, BLUR_SIGMA), truncate=PAD / BLUR_SIGMA)
    rgb = rgb[:, PAD:-PAD, PAD:-PAD]
    rows, cols = rows[PAD:-PAD], cols[PAD:-PAD]
    for band in range(SENSOR_BANDS):
        rgb[band] += HAZE[band] + SENSOR_NOISE * gaussian_noise(
            rows, cols, keys[Field.SENSOR + band]
        )
    image = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
    wtr = window_transform(window, spec.transform)
    wbox = shapely.box(*window_bounds(window, spec.transform))
    mask = (layout.truth_layer.burn(wbox, wtr, image.shape[1:]) > 0).astype(np.uint8)
    return image, mask


def _vegetation(
    rows: np.ndarray, cols: np.ndarray, lit: np.ndarray, keys: dict[int, int], pixel_size: float
) -> np.ndarray:
    px = 1.0 / pixel_size  # pixels per metre
    kind = smoothstep(0.38, 0.62, fbm(rows, cols, 90.0 * px, 3, keys[Field.VEGETATION]))
    tone = fbm(rows, cols, 20.0 * px, 2, keys[Field.TONE]) - 0.5
    crowns = fbm(rows, cols, 3.0 * px, 2, keys[Field.CROWNS])
    # Crowns as a height field lit from the sun side: compare with a sunward neighbour.
    sunward = fbm(rows - 1.5, cols - 1.5, 3.0 * px, 2, keys[Field.CROWNS])
    shadow = smoothstep(0.6, 0.75, fbm(rows, cols, 35.0 * px, 3, keys[Field.CANOPY_SHADOW]))
    # Dry-valley slopes: pale sparse grass dotted with dark shrubs.
    dry = smoothstep(0.56, 0.68, fbm(rows, cols, 110.0 * px, 3, keys[Field.DRY_VALLEY]))
    canopy = (1.0 - 0.75 * kind) * (1.0 - dry)
    shrubs = 0.45 * dry * smoothstep(0.5, 0.65, crowns)
    texture = 1.0 + 0.4 * tone + canopy * (0.8 * (crowns - 0.5) + 2.5 * (crowns - sunward))
    factor = texture * (0.15 + 1.1 * lit) * (1.0 - 0.35 * shadow) * (1.0 - shrubs)
    base = FOREST[:, None, None] * (1.0 - kind) + SHRUB[:, None, None] * kind
    base = base * (1.0 - dry) + DRY[:, None, None] * dry
    return (base * factor).astype(np.float32)


def _paint_fields(canvas: Canvas, layout: SceneLayout) -> None:
    labels = canvas.burn(layout.field_layer)
    rr, cc = np.nonzero(labels)
    if rr.size == 0:
        return
    f = layout.field_table
    ids = labels[rr, cc] - 1
    phase = (canvas.x[cc] * f.across[ids, 0] + canvas.y[rr] * f.across[ids, 1]) / f.periods[ids]
    grain = grid_noise(canvas.rows, canvas.cols, 1.5, canvas.keys[Field.FARMLAND])[rr, cc]
    factor = (1.0 + 0.1 * np.sin(2 * math.pi * phase) + 0.2 * (grain - 0.5)) * (
        0.45 + 0.6 * canvas.lit[rr, cc]
    )
    canvas.rgb[:, rr, cc] = (f.colours[ids] * factor[:, None]).T.astype(np.float32)


def _paint_scars(canvas: Canvas, layout: SceneLayout) -> None:
    labels = canvas.burn(layout.scar_layer)
    rr, cc = np.nonzero(labels)
    if rr.size == 0:
        return
    s, keys = layout.slides, canvas.keys
    rows, cols = canvas.rows, canvas.cols
    ids = labels[rr, cc] - 1
    dx = canvas.x[cc] - s.heads[ids, 0]
    dy = canvas.y[rr] - s.heads[ids, 1]
    ax, ay = s.axes[ids, 0], s.axes[ids, 1]
    u = dx * ax + dy * ay  # metres downslope from the head scarp
    v = dy * ax - dx * ay
    t = np.clip(u / s.lengths[ids], 0.0, 1.0)
    px = 1.0 / canvas.pixel_size
    streak = point_noise(u / 7.0, v / 1.1, keys[Field.STREAKS])
    fine = grid_noise(rows, cols, 1.3, keys[Field.SOIL])[rr, cc]
    patch = fbm(rows, cols, 6.0 * px, 2, keys[Field.PATCHES])[rr, cc]
    f = (
        1.0
        + 0.16 * (1.0 - smoothstep(0.0, 0.15, t))  # fresh, bright head scarp
        - 0.16 * t  # darker, moister debris toward the toe
        + 0.25 * (streak - 0.5)
        + 0.35 * (fine - 0.5)
        + 0.35 * (patch - 0.5)
    )
    f = f * (0.5 + 0.6 * canvas.lit[rr, cc])
    canvas.rgb[:, rr, cc] = (s.colours[ids] * f[:, None]).T.astype(np.float32)


def _paint_river(canvas: Canvas, layout: SceneLayout) -> None:
    water = canvas.burn(layout.water_layer)
    bars = canvas.burn(layout.bar_layer) > 0
    if not (water.any() or bars.any()):
        return
    rows, cols, keys, rgb = canvas.rows, canvas.cols, canvas.keys, canvas.rgb
    px = 1.0 / canvas.pixel_size
    if water.any():
        ripple = fbm(rows, cols, 3.0 * px, 2, keys[Field.WATER])
        turbid = fbm(rows, cols, 40.0 * px, 2, keys[Field.WATER] + 7)
        for value, colour in ((1, WATER_SHALLOW), (2, WATER_DEEP)):
            m = water == value
            f = 0.92 + 0.1 * ripple[m] + 0.12 * (turbid[m] - 0.5)
            rgb[:, m] = colour[:, None] * f
    if bars.any():
        pebbles = grid_noise(rows, cols, 1.2, keys[Field.GRAVEL])[bars]
        damp = fbm(rows, cols, 8.0 * px, 3, keys[Field.DAMP])[bars]
        v = 182.0 * (0.78 + 0.4 * pebbles + 0.5 * (damp - 0.5))
        gravel = np.stack([v, v * 0.99, v * 0.965])
        # sparse grass on the older, higher parts of the bars
        grass = smoothstep(0.6, 0.72, damp) * 0.7
        rgb[:, bars] = gravel * (1 - grass) + SHRUB[:, None] * (0.6 + 0.8 * pebbles) * grass


def _paint_table(
    canvas: Canvas, labels: np.ndarray, table: np.ndarray, amount: float, cell: float, key: int
) -> None:
    """Surfaces coloured from a table by label (roads, roofs), with a fine grain."""
    m = labels > 0
    if m.any():
        grain = grid_noise(canvas.rows, canvas.cols, cell, key)[m]
        canvas.rgb[:, m] = (table[labels[m] - 1] * (1.0 + amount * 2 * (grain - 0.5))[:, None]).T
