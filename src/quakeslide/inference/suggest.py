"""`quakeslide suggest`: where a mapper should draw next, and the model's outlines to start from.

The scenes are cut into a grid of `size` px squares (candidates never overlap). One pass
predicts each scene as `predict` does, in bands of rows (memory flat in the scene's size),
and adds up each square's uncertainty over its valid pixels: the binary entropy of the
probability, or with `disagreement` how much the window's eight mirrored / rotated views
disagree, and the members where MODEL is an ensemble (8x the inference; see
:mod:`quakeslide.inference.uncertainty`). Squares mostly nodata, or touching an area
already labelled, are left out. The ranking takes the most
uncertain square, then leaves out its eight neighbours (the suggestions spread over the
scene), and so on; with `mixed` a share of the suggestions is drawn at random from the
squares left (so what is labelled is not only what the model finds hard, and scores stay
unbiased); `random` draws them all. `random` is the default: on Bijie from a Jiuzhaigou
parent, windows drawn at random taught a fine-tune more than the most uncertain ones
(entropy), more than `mixed` and more than `disagreement` at every number of windows from
5 to 20 (`selection-study`, docs/experiments/new-event-suggest.md).

Each suggestion gets an image chip and a Labelme file pre-filled with the model's polygons
(predicted with a margin of context around the chip), simplified to about a vertex per
pixel of outline, so a mapper corrects outlines instead of drawing them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import pyogrio.raw
import rasterio
import shapely
from PIL import Image
from rasterio.crs import CRS
from rasterio.windows import Window
from rasterio.windows import bounds as window_bounds
from rasterio.windows import transform as window_transform

from quakeslide.device import configure_cpu_threads
from quakeslide.errors import InputError
from quakeslide.folders import SuggestionFolder
from quakeslide.inference.engines import Engine
from quakeslide.inference.scenes import choose_engine
from quakeslide.inference.sliding import predict_rows
from quakeslide.inference.uncertainty import measure_for, pixel_uncertainty
from quakeslide.io.labelme import write_labelme
from quakeslide.io.labels import read_vector_labels
from quakeslide.io.raster import (
    atomic_path,
    band_pass_cache_mb,
    expand_scenes,
    with_bounded_gdal_cache,
    writable_folder,
)
from quakeslide.io.scene import SceneReader, open_scene_reader
from quakeslide.io.styles import add_default_style, suggestion_qml
from quakeslide.io.vectors import GPKG_OPTIONS, polygonize
from quakeslide.options import SuggestOptions, named

MIN_VALID = 0.5  # squares with less valid data than this are never suggested
RANDOM_SHARE = 0.25  # `mixed`: this share of the suggestions drawn at random
CONTEXT = 32  # px of context predicted around each chip for its pre-filled outlines


@dataclass(frozen=True)
class Square:
    scene: Path
    row: int  # grid cell
    col: int
    window: Window
    box: shapely.Geometry  # the window in the scene's CRS
    score: float  # mean uncertainty (bits) over valid pixels: entropy, or view disagreement
    picked_by: str = ""  # "uncertainty", "disagreement" or "random"


@with_bounded_gdal_cache
def suggest(
    checkpoint: Path, scenes: list[Path], out: Path, options: SuggestOptions | None = None
) -> list[Square]:
    """Rank the squares of `scenes`; write the folder; return the suggestions, best first."""
    o = options or SuggestOptions()
    scene_paths = expand_scenes(scenes)
    if not scene_paths:
        raise InputError("no scene given: name at least one scene (or folder of scenes)")
    engine = choose_engine(checkpoint, None, o.device, o.precision, configure_cpu_threads())
    return suggest_with(engine, engine.threshold(o.threshold, checkpoint), scene_paths, out, o)


def suggest_with(
    engine: Engine, threshold: float, scene_paths: list[Path], out: Path, o: SuggestOptions
) -> list[Square]:
    """`suggest` with a ready engine (any callable model: tests, notebooks)."""
    candidates: list[Square] = []
    for scene in scene_paths:
        candidates += _scored_squares(engine, scene, o)
    if not candidates:
        raise InputError(
            "no square left to suggest: every one is mostly nodata or touches"
            f" {named('labelled')} areas"
        )
    chosen = rank(candidates, o.n, o.strategy, o.seed)
    folder = SuggestionFolder(writable_folder(Path(out)))
    folder.chips.mkdir(exist_ok=True)
    crs = None
    for rank_index, square in enumerate(chosen, start=1):
        with open_scene_reader(square.scene, o.bands) as reader:
            crs = reader.crs
            _write_chip(engine, reader, square, rank_index, threshold, folder, o)
    _write_squares(folder.suggestions, chosen, crs)
    return chosen


def _scored_squares(engine: Engine, scene: Path, o: SuggestOptions) -> list[Square]:
    """Every square of one scene with its uncertainty (the strategy's measure, streamed
    through predict's bands and blended where windows overlap); those to leave out left out."""
    with open_scene_reader(scene, o.bands) as reader:
        if len(reader.bands) != engine.bands:
            raise InputError(
                f"{scene}: {len(reader.bands)} band(s) used, the model expects {engine.bands}"
                f" (choose with {named('bands')})"
            )
        cache_mb = band_pass_cache_mb(reader.rows_bytes(o.tile), reader.width, outputs=0)
        grid_rows, grid_cols = -(-reader.height // o.size), -(-reader.width // o.size)
        bits_sum = np.zeros((grid_rows, grid_cols))
        valid = np.zeros((grid_rows, grid_cols))
        uncertainty = partial(pixel_uncertainty, engine, measure_for(o.strategy))
        bands = predict_rows(reader.read, reader.height, reader.width, uncertainty,
                             o.tile, o.tile // 4, o.batch_size)  # fmt: skip
        for band in _bands_in(bands, cache_mb):
            bits = np.where(band.valid, band.probability, 0.0)  # the blended uncertainty
            cell_rows = (band.row + np.arange(bits.shape[0])) // o.size
            per_column = _sum_by(bits, cell_rows, grid_rows, axis=0)
            bits_sum += _sum_by(per_column, np.arange(reader.width) // o.size, grid_cols, axis=1)
            counts = _sum_by(band.valid.astype(np.float64), cell_rows, grid_rows, axis=0)
            valid += _sum_by(counts, np.arange(reader.width) // o.size, grid_cols, axis=1)
        squares = []
        for r in range(grid_rows):
            for c in range(grid_cols):
                window = Window(c * o.size, r * o.size, min(o.size, reader.width - c * o.size),
                                min(o.size, reader.height - r * o.size))  # fmt: skip
                if valid[r, c] < MIN_VALID * o.size * o.size:
                    continue
                box = shapely.box(*window_bounds(window, reader.transform))
                score = float(bits_sum[r, c] / valid[r, c])
                squares.append(Square(scene, r, c, window, box, score))
        return _unlabelled(squares, reader, o.labelled) if o.labelled else squares


def _bands_in(bands, cache_mb: int):
    """The bands, read with GDAL's block cache held to two rows of blocks (as predict's):
    its default, 5 % of RAM, grows with the scene (measured: +330 MB at 8192 px)."""
    with rasterio.Env(GDAL_CACHEMAX=cache_mb):
        yield from bands


def _sum_by(values: np.ndarray, groups: np.ndarray, count: int, axis: int) -> np.ndarray:
    """Sums of `values` along `axis` grouped by `groups` (sorted indices 0..count-1)."""
    moved = np.moveaxis(values, axis, 0)
    sums = np.zeros((count, *moved.shape[1:]))
    np.add.at(sums, groups, moved)
    return np.moveaxis(sums, 0, axis)


def _unlabelled(squares: list[Square], reader: SceneReader, labelled: Path) -> list[Square]:
    """The squares touching none of the areas already labelled (reprojected to the
    scene's CRS)."""
    bounds = window_bounds(Window(0, 0, reader.width, reader.height), reader.transform)
    areas = read_vector_labels(labelled, reader.crs, bounds).polygons
    if not areas or not squares:
        return squares
    boxes = np.array([square.box for square in squares], dtype=object)
    touched = set(shapely.STRtree(areas).query(boxes, predicate="intersects")[0].tolist())
    return [square for i, square in enumerate(squares) if i not in touched]


def rank(candidates: list[Square], n: int, strategy: str, seed: int) -> list[Square]:
    """`n` squares: by their score with their neighbours left out, a random share, or all
    at random; fewer where fewer are left."""
    rng = np.random.default_rng(seed)
    n_random = {"uncertainty": 0, "disagreement": 0, "random": n,
                "mixed": round(RANDOM_SHARE * n)}[strategy]  # fmt: skip
    ranked_by = "disagreement" if strategy == "disagreement" else "uncertainty"
    left = sorted(candidates, key=lambda s: -s.score)
    blocked: set[tuple[Path, int, int]] = set()
    chosen: list[Square] = []
    for square in left:
        if len(chosen) == n - n_random:
            break
        if (square.scene, square.row, square.col) in blocked:
            continue
        chosen.append(replace(square, picked_by=ranked_by))
        blocked |= {(square.scene, square.row + dr, square.col + dc)
                    for dr in (-1, 0, 1) for dc in (-1, 0, 1)}  # fmt: skip
    taken = {(s.scene, s.row, s.col) for s in chosen}
    rest = [s for s in candidates if (s.scene, s.row, s.col) not in taken]
    drawn = rng.choice(len(rest), size=min(n - len(chosen), len(rest)), replace=False)
    return chosen + [replace(rest[i], picked_by="random") for i in sorted(drawn)]


def _write_chip(
    engine: Engine,
    reader: SceneReader,
    square: Square,
    rank_index: int,
    threshold: float,
    folder: SuggestionFolder,
    o: SuggestOptions,
) -> None:
    """The chip (PNG) and its Labelme file pre-filled with the model's outlines."""
    w = square.window
    image, _ = reader.read(w)
    stem = f"{rank_index:03d}_{square.scene.stem}"
    chip = folder.chips / f"{stem}.png"
    with atomic_path(chip) as tmp:
        Image.fromarray(np.moveaxis(image[:3], 0, -1)).save(tmp, format="PNG")
    context = Window(w.col_off - CONTEXT, w.row_off - CONTEXT, w.width + 2 * CONTEXT,
                     w.height + 2 * CONTEXT)  # fmt: skip
    wide, wide_valid = reader.read(context)
    probability = engine.predict(wide[None])[0]
    inner = (slice(CONTEXT, CONTEXT + int(w.height)), slice(CONTEXT, CONTEXT + int(w.width)))
    mask = (probability >= threshold) & wide_valid
    transform = window_transform(w, reader.transform)
    landslides = polygonize(mask[inner], probability[inner], transform, None)
    pixel = abs(transform.a)
    polygons = [
        shapely.simplify(ls.geometry, pixel, preserve_topology=True)
        for ls in landslides
        if ls.area_px >= o.min_pixels
    ]
    polygons = [p for p in polygons if p.geom_type == "Polygon" and not p.is_empty]
    with atomic_path(folder.chips / f"{stem}.json") as tmp:
        write_labelme(tmp, chip.name, polygons, transform, int(w.height), int(w.width))
        doc = json.loads(tmp.read_text())
        doc["flags"] = {"reviewed": False}
        tmp.write_text(json.dumps(doc, indent=1))


def _write_squares(path: Path, squares: list[Square], crs: CRS | None) -> None:
    """The suggestions as squares in the scenes' CRS, ranked, styled with the rank."""
    with atomic_path(path) as tmp:
        pyogrio.raw.write(
            tmp, shapely.to_wkb(np.array([s.box for s in squares], dtype=object)),
            [np.arange(1, len(squares) + 1, dtype=np.int32),
             np.array([s.score for s in squares]),
             np.array([s.picked_by for s in squares], dtype=object),
             np.array([s.scene.name for s in squares], dtype=object),
             np.array([int(s.window.col_off) for s in squares], dtype=np.int32),
             np.array([int(s.window.row_off) for s in squares], dtype=np.int32)],
            ["rank", "uncertainty", "picked_by", "scene", "col", "row"], layer="suggestions",
            driver="GPKG", geometry_type="Polygon", crs=crs.to_wkt() if crs else None,
            dataset_options=GPKG_OPTIONS,
        )  # fmt: skip
        add_default_style(tmp, "suggestions", "geom", suggestion_qml())
