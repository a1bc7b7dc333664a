"""The label values every stage shares: class names, their indices and the ignore value."""

from __future__ import annotations

BACKGROUND = 0
LANDSLIDE = 1
IGNORE = 255  # unlabelled or nodata pixels: left out of the loss and of every score
CLASS_NAMES: tuple[str, ...] = ("background", "landslide")  # index = class value
