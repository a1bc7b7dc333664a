"""What a report holds: sections of text, tables and figures, independent of the format."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

from quakeslide.io.styles import OUTLINE_RGBA


@dataclass
class Table:
    caption: str
    header: list[str]
    rows: list[list[str]]


@dataclass
class Figure:
    caption: str
    path: Path  # a PNG


@dataclass(frozen=True)
class Overlay:
    """A picture laid over the map, switched on and off by the reader (a density grid)."""

    name: str  # with its legend, e.g. "landslides / km2 (0-35)"
    png: bytes
    bounds: tuple[float, float, float, float]  # left, bottom, right, top in map units
    shown: bool = False  # drawn from the start (else switched on by the reader)


@dataclass(frozen=True)
class SceneMap:
    """A predicted scene, or an inventory, as the map page draws it (`reporting/map_page.py`)."""

    name: str
    picture: Path | None  # the quicklook PNG under everything, if there is one
    bounds: tuple[float, float, float, float]  # left, bottom, right, top in map units
    landslides: dict  # GeoJSON FeatureCollection in map units, largest first
    total: int  # landslides in the scene (drawn: len(features))
    lonlat: list[float] | None  # (a, b, c, d, e, f): lon = a x + b y + c, lat = d x + e y + f
    unit: str  # "m" in a projected CRS, else "px"
    legend: str  # what the outlines are
    columns: list[tuple[str, str, int]]  # (property, header, decimals) listed per landslide
    overlays: list[Overlay] = field(default_factory=list)
    item: str = "landslide"  # what each outline is
    order: str = "largest first"  # how the list is sorted
    colour: tuple[int, ...] = OUTLINE_RGBA[:3]  # the outlines' colour, as QGIS draws them


@dataclass
class Section:
    title: str
    text: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    maps: list[SceneMap] = field(default_factory=list)  # interactive in HTML


@dataclass
class Report:
    title: str
    source: Path
    sections: list[Section] = field(default_factory=list)


def cell(value: object) -> str:
    """Numbers to 4 decimals (integers as they are), None / NaN as a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # inf from a diverged run
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() else f"{value:.4f}".rstrip("0").rstrip(".")
    return str(value)


def key_value_table(caption: str, values: dict) -> Table:
    """A two-column table of the scalar entries of `values` (nested dicts flattened a.b)."""
    rows = []
    for key, value in _flatten(values).items():
        rows.append([key, cell(value)])
    return Table(caption, ["key", "value"], rows)


def records_table(caption: str, records: list[dict], limit: int | None = None) -> Table:
    shown = records if limit is None else records[:limit]
    header = list(records[0]) if records else []
    rows = [[cell(_number(r.get(k))) for k in header] for r in shown]
    if limit is not None and len(records) > limit:
        caption += f" (first {limit} of {len(records)} rows)"
    return Table(caption, header, rows)


def read_records(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _number(value: object) -> object:
    """CSV text to int / float where it is one, so it gets the number format."""
    if not isinstance(value, str):
        return value
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value


def _flatten(values: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
            flat[name] = ", ".join(cell(v) for v in value)
        elif not isinstance(value, list):
            flat[name] = value
    return flat
