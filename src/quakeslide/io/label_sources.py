"""Pick the reader for the labels a user has: Labelme JSON, vector polygons or mask images.

Every reader offers `mask(window, scene_transform) -> uint8 (0 background, 1 landslide,
255 ignore)` for a window inside the scene.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

import numpy as np
from rasterio.windows import Window
from rasterio.windows import bounds as window_bounds

from quakeslide.errors import InputError
from quakeslide.io.labelme import find_labelme, read_labelme
from quakeslide.io.labels import read_vector_labels
from quakeslide.io.mask_labels import MASK_SUFFIXES, read_mask_folder_item, read_mask_labels
from quakeslide.io.scene import SceneReader
from quakeslide.options import named

LABEL_FORMATS = ("auto", "labelme", "vector", "mask")
VECTOR_SUFFIXES = {".gpkg", ".shp", ".geojson", ".fgb", ".kml", ".gml"}


class LabelSource(Protocol):
    def mask(self, window: Window, scene_transform) -> np.ndarray: ...


def detect_label_format(labels: Path) -> str:
    """'labelme', 'vector' or 'mask', from the file type (and a JSON file's content)."""
    labels = Path(labels)
    if not labels.exists():
        raise InputError(f"{labels}: labels not found")
    if labels.is_dir():
        suffixes = {p.suffix.lower() for p in labels.iterdir()}
        if ".json" in suffixes:
            return "labelme"
        if suffixes & set(MASK_SUFFIXES):
            return "mask"
        raise InputError(f"{labels}: folder holds neither Labelme JSON nor mask images")
    suffix = labels.suffix.lower()
    if suffix == ".json":
        try:
            content = json.loads(labels.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise InputError(f"{labels}: not valid JSON ({err})") from err
        if isinstance(content, dict) and "shapes" in content:
            return "labelme"
        if isinstance(content, dict) and content.get("type") in ("FeatureCollection", "Feature"):
            return "vector"
        raise InputError(f"{labels}: JSON is neither Labelme (shapes) nor GeoJSON")
    if suffix in VECTOR_SUFFIXES:
        return "vector"
    if suffix in MASK_SUFFIXES:
        return "mask"
    raise InputError(f"{labels}: unknown label type {suffix!r}; use {named('label_format')}")


def open_labels(
    labels: Path,
    scene: Path,
    reader: SceneReader,
    label_format: str = "auto",
    label_names: set[str] | None = None,
    mask_encoding: str = "auto",
    mask_color: tuple[int, int, int] | None = None,
    assume_crs: str | None = None,
) -> tuple[LabelSource, str]:
    """The label source for one scene, and a description of its format for dataset.json."""
    labels = Path(labels)
    if label_format not in LABEL_FORMATS:
        raise InputError(f"unknown label format {label_format!r}: use {', '.join(LABEL_FORMATS)}")
    kind = detect_label_format(labels) if label_format == "auto" else label_format
    if kind == "vector":
        bounds = _scene_bounds(reader)
        return read_vector_labels(labels, reader.crs, bounds, assume_crs), "vector"
    if kind == "labelme":
        json_path = find_labelme(labels, scene)
        return read_labelme(json_path, reader.height, reader.width, label_names), "labelme"
    mask_path = read_mask_folder_item(labels, scene.stem) if labels.is_dir() else labels
    source = read_mask_labels(mask_path, reader.height, reader.width, mask_encoding, mask_color)
    return source, f"mask:{source.encoding}"


def _scene_bounds(reader: SceneReader) -> tuple[float, float, float, float]:
    return window_bounds(Window(0, 0, reader.width, reader.height), reader.transform)
