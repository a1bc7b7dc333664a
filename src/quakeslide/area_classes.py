"""Landslide size classes, in m2 where the pixel size is known, else in pixels.

The metre bounds split the Wenchuan-style inventory into slides of a few tens of pixels
(< 500 m2, about 1300 px at 0.61 m), medium slides, and large ones (> 5000 m2); the pixel
bounds are used when the pixel size is unknown and are stated with every result.
"""

from __future__ import annotations

import numpy as np

AREA_CLASSES = {
    "m2": {"small": (0.0, 500.0), "medium": (500.0, 5000.0), "large": (5000.0, np.inf)},
    "px": {"small": (0.0, 100.0), "medium": (100.0, 1000.0), "large": (1000.0, np.inf)},
}


def area_class(area: float, unit: str) -> str:
    for name, (low, high) in AREA_CLASSES[unit].items():
        if low <= area < high:
            return name
    raise ValueError(f"area {area} {unit} is in no class")


def class_bounds(unit: str) -> dict[str, list[float | None]]:
    """The classes as JSON-friendly [low, high] pairs (high None = unbounded)."""
    return {
        name: [low, high if np.isfinite(high) else None]
        for name, (low, high) in AREA_CLASSES[unit].items()
    }


def class_label(bounds: list[float | None], unit: str) -> str:
    """[low, high] (high None = unbounded) as a reader writes it: "< 500 m2", "500-5000 m2"."""
    low, high = bounds
    if high is None:
        return f">= {low:g} {unit}"
    if not low:
        return f"< {high:g} {unit}"
    return f"{low:g}-{high:g} {unit}"
