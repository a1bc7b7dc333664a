"""Hashed value noise: every field a pure function of absolute pixel coordinates.

So a pixel never depends on the window it is rendered in.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

_MASK64 = (1 << 64) - 1


class Field(IntEnum):
    """The noise fields of a scene, each mixed with the seed into its own hash key."""

    VEGETATION = 0  # forest vs shrub
    TONE = 1
    CROWNS = 2
    CANOPY_SHADOW = 3
    SOIL = 4
    STREAKS = 5  # debris streaks down a scar
    PATCHES = 6
    GRAVEL = 7
    WATER = 8
    ROAD = 9
    ROOF = 10
    DAMP = 11
    DRY_VALLEY = 12
    FARMLAND = 13
    SENSOR = 20  # + band index: sensor noise of bands 0, 1, 2


SENSOR_BANDS = 3


def _splitmix(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def field_key(seed: int, field: int) -> int:
    """The hash key of one noise field of a scene."""
    mixed = np.array([(seed * 0x9E3779B97F4A7C15 + field * 0xD1B54A32D192ED03) & _MASK64])
    return int(_splitmix(mixed.astype(np.uint64))[0])


def hash_bits(ix: np.ndarray, iy: np.ndarray, key: int) -> np.ndarray:
    """64 well-mixed bits per integer lattice point (broadcasting ix against iy)."""
    h = ix.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    h = h + iy.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
    return _splitmix(h ^ np.uint64(key))


def hash_uniform(ix: np.ndarray, iy: np.ndarray, key: int) -> np.ndarray:
    bits = hash_bits(ix, iy, key) >> np.uint64(40)
    return bits.astype(np.float32) * np.float32(2.0**-24)


def _smooth(t: np.ndarray) -> np.ndarray:
    return t * t * (3.0 - 2.0 * t)


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    return _smooth(np.clip((x - e0) / (e1 - e0), 0.0, 1.0))


def grid_noise(rows: np.ndarray, cols: np.ndarray, cell: float, key: int) -> np.ndarray:
    """Value noise in [0, 1) on the pixel grid ``rows x cols`` with lattice spacing ``cell``.

    Lattice values are hashed from absolute lattice indices, so the field is independent of
    the window; interpolation is separable (rows then columns), costing a few ops per pixel.
    """
    fy = (rows + 0.5) / cell
    fx = (cols + 0.5) / cell
    iy = np.floor(fy).astype(np.int64)
    ix = np.floor(fx).astype(np.int64)
    ty = _smooth(fy - iy).astype(np.float32)[:, None]
    tx = _smooth(fx - ix).astype(np.float32)
    lattice = hash_uniform(
        np.arange(ix[0], ix[-1] + 2)[None, :], np.arange(iy[0], iy[-1] + 2)[:, None], key
    )
    jx = ix - ix[0]
    along_x = lattice[:, jx] * (1.0 - tx) + lattice[:, jx + 1] * tx
    jy = iy - iy[0]
    return along_x[jy] * (1.0 - ty) + along_x[jy + 1] * ty


def fbm(rows: np.ndarray, cols: np.ndarray, cell: float, octaves: int, key: int) -> np.ndarray:
    total = np.zeros((rows.size, cols.size), dtype=np.float32)
    norm = 0.0
    for octave in range(octaves):
        amp = 0.5**octave
        total += amp * grid_noise(rows, cols, cell / 2**octave, key + octave)
        norm += amp
    return total / np.float32(norm)


def point_noise(x: np.ndarray, y: np.ndarray, key: int) -> np.ndarray:
    """Value noise in [0, 1) at arbitrary points (lattice spacing 1)."""
    ix = np.floor(x).astype(np.int64)
    iy = np.floor(y).astype(np.int64)
    tx = _smooth(x - ix).astype(np.float32)
    ty = _smooth(y - iy).astype(np.float32)
    top = hash_uniform(ix, iy, key) * (1 - tx) + hash_uniform(ix + 1, iy, key) * tx
    bottom = hash_uniform(ix, iy + 1, key) * (1 - tx) + hash_uniform(ix + 1, iy + 1, key) * tx
    return top * (1 - ty) + bottom * ty


def gaussian_noise(rows: np.ndarray, cols: np.ndarray, key: int) -> np.ndarray:
    """Per-pixel, approximately standard normal noise (sum of three 21-bit uniforms)."""
    bits = hash_bits(cols[None, :], rows[:, None], key)
    low = np.uint64((1 << 21) - 1)
    total = (
        (bits & low).astype(np.float32)
        + ((bits >> np.uint64(21)) & low).astype(np.float32)
        + ((bits >> np.uint64(42)) & low).astype(np.float32)
    )
    return (total * np.float32(2.0**-21) - 1.5) * np.float32(2.0)
