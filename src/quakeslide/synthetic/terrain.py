"""Terrain: smooth relief known through its exact gradient, lit by a north-western sun."""

from __future__ import annotations

import math

import numpy as np

SUN_AZIMUTH = math.radians(315.0)  # light from the north-west: relief reads naturally
SUN_ALTITUDE = math.radians(45.0)
SUN = np.array(
    [
        math.sin(SUN_AZIMUTH) * math.cos(SUN_ALTITUDE),
        math.cos(SUN_AZIMUTH) * math.cos(SUN_ALTITUDE),
        math.sin(SUN_ALTITUDE),
    ]
)


class Relief:
    """Smooth synthetic terrain as a sum of plane waves, known through its exact gradient.

    Coordinates are metres relative to the scene origin (x east, y north).
    """

    def __init__(self, rng: np.random.Generator, rms_slope: float = 0.7, n: int = 16) -> None:
        wavelength = np.exp(rng.uniform(math.log(60.0), math.log(1500.0), n))
        angle = rng.uniform(0.0, 2 * math.pi, n)
        k = 2 * math.pi / wavelength
        self._kx = k * np.cos(angle)
        self._ky = k * np.sin(angle)
        self._phase = rng.uniform(0.0, 2 * math.pi, n)
        amp = wavelength**1.1
        self._amp = amp * rms_slope / np.sqrt(np.sum((amp * k) ** 2) / 2)

    def gradient(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        arg = np.multiply.outer(x, self._kx) + np.multiply.outer(y, self._ky) + self._phase
        c = np.cos(arg) * self._amp
        return (c * self._kx).sum(-1), (c * self._ky).sum(-1)

    def gradient_grid(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradient on the grid ``y (rows) x x (cols)``: cos(a + b) split into two matmuls."""
        a = np.multiply.outer(x, self._kx) + self._phase
        b = np.multiply.outer(y, self._ky)
        rows = np.concatenate([np.cos(b), -np.sin(b)], axis=1)
        cos_a, sin_a = np.cos(a) * self._amp, np.sin(a) * self._amp
        gx = rows @ np.concatenate([cos_a * self._kx, sin_a * self._kx], axis=1).T
        gy = rows @ np.concatenate([cos_a * self._ky, sin_a * self._ky], axis=1).T
        return gx.astype(np.float32), gy.astype(np.float32)


def illumination(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    lit = (-gx * SUN[0] - gy * SUN[1] + SUN[2]) / np.sqrt(1.0 + gx * gx + gy * gy)
    return np.clip(lit, 0.0, 1.0).astype(np.float32)
