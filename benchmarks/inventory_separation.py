#!/usr/bin/env python
"""The event inventory a model maps against the truth's, with and without separation.

Usage:
    python benchmarks/inventory_separation.py synthetic MODEL --out DIR [--seeds 100 101 102]
        [--size 2048]
    python benchmarks/inventory_separation.py jiuzhaigou MODEL --out DIR [--split val]

`synthetic`: scenes of the synthetic world (seeds the demo never trains on), the truth
inventory one polygon per scar (`<scene>_inventory.gpkg`: touching scars apart).
`jiuzhaigou`: the tiles of a split stitched into one sparse mosaic by the pixel windows in
their names (gaps are nodata), the truth the mosaic of their masks; the mosaic is given
0.5 m pixels in a UTM CRS (the source's pixel size is not stated): counts, area ratios and
exponents do not depend on it, areas in m2 and mLS do.

Each scene is predicted once (`predict_scene`, separation none), then its mask and
probability are polygonised again with each separation (`iter_regions`, streamed in bands
as predict does) and the pooled landslides go through `run_inventory` with the truth. It
prints one markdown table (pooled over the scenes) and writes `DIR/separation.json`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

from quakeslide.data.dataset import find_image, list_stems, read_image
from quakeslide.data.positions import tile_positions
from quakeslide.device import plan_compute
from quakeslide.folders import PredictionOutputs
from quakeslide.inference.engines import torch_engine
from quakeslide.inference.predict import PROB_MAX, predict_scene
from quakeslide.inventory.run import run_inventory
from quakeslide.io.regions import iter_regions
from quakeslide.io.vectors import LandslideWriter, iter_landslides
from quakeslide.models.checkpoint import load_net
from quakeslide.options import InventoryOptions
from quakeslide.synthetic import SceneSpec, make_scene

JIUZHAIGOU = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "jiuzhaigou"
SEPARATIONS = ("none", "shape", "probability")
BAND_ROWS = 256


def synthetic_scenes(out: Path, seeds: list[int], size: int) -> list[tuple[Path, Path]]:
    """(image, truth inventory) of each synthetic scene."""
    scenes = []
    for seed in seeds:
        spec = SceneSpec(height=size, width=size, seed=seed)
        scene = make_scene(out / "scenes", f"scene_{seed}", spec)
        scenes.append((scene.image_path, scene.inventory_path))
    return scenes


def jiuzhaigou_mosaic(out: Path, split: str) -> list[tuple[Path, Path]]:
    """A split's tiles and masks stitched at their offsets; gaps nodata (image) and 255."""
    stems = list_stems(JIUZHAIGOU, split)
    positions = tile_positions(JIUZHAIGOU, stems)
    top = min(p.row for p in positions.values())
    left = min(p.col for p in positions.values())
    height = max(p.row + p.height for p in positions.values()) - top
    width = max(p.col + p.width for p in positions.values()) - left
    grid = dict(driver="GTiff", height=height, width=width, crs="EPSG:32648",
                transform=from_origin(400000, 3700000, 0.5, 0.5), tiled=True,
                compress="deflate")  # fmt: skip
    (out / "scenes").mkdir(parents=True, exist_ok=True)
    image_path, mask_path = (
        out / "scenes" / f"jz_{split}.tif",
        out / "scenes" / f"jz_{split}_mask.tif",
    )
    with (
        rasterio.open(image_path, "w", count=3, dtype="uint8", **grid) as image,
        rasterio.open(mask_path, "w", count=1, dtype="uint8", nodata=255, **grid) as mask,
    ):
        image.write_mask(np.zeros((height, width), np.uint8))
        mask.write(np.full((1, height, width), 255, np.uint8))
        for stem, p in positions.items():
            window = Window(p.col - left, p.row - top, p.width, p.height)
            image.write(read_image(find_image(JIUZHAIGOU, stem)), window=window)
            image.write_mask(np.full((p.height, p.width), 255, np.uint8), window=window)
            truth = np.array(rasterio.open(JIUZHAIGOU / "masks" / f"{stem}.png").read(1)) > 127
            mask.write(truth.astype(np.uint8), 1, window=window)
    return [(image_path, mask_path)]


def polygons_with(outputs, separation: str, out: Path) -> tuple[Path, float]:
    """The prediction's mask polygonised again with `separation`; (GeoPackage, seconds)."""
    path = out / f"{outputs.mask.stem.removesuffix('_mask')}_{separation}.gpkg"
    path.unlink(missing_ok=True)
    start = time.perf_counter()
    with rasterio.open(outputs.mask) as mask, rasterio.open(outputs.probability) as prob:

        def read_band(row0: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
            window = Window(0, row0, mask.width, rows)
            level = prob.read(1, window=window).astype(np.float32)
            return mask.read(1, window=window) == 1, level / PROB_MAX

        regions = iter_regions(read_band, mask.height, BAND_ROWS, separation)
        writer = LandslideWriter(path, mask.crs)
        for chunk in iter_landslides(regions, mask.transform, mask.crs):
            writer.write(chunk)
        writer.finish()
    return path, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", choices=["synthetic", "jiuzhaigou"])
    parser.add_argument("model", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 101, 102])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--split", default="val")
    parser.add_argument("--grid", type=float, default=200.0, help="density cell, m")
    parser.add_argument("--min-area", type=float, default=0.0, help="mapping unit, m2")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.data == "synthetic":
        scenes = synthetic_scenes(args.out, args.seeds, args.size)
    else:
        scenes = jiuzhaigou_mosaic(args.out, args.split)
    engine = torch_engine(load_net(args.model)[0], plan_compute("auto", "auto"))
    predicted = []
    for image, _ in scenes:
        outputs = PredictionOutputs.for_scene(image, args.out / "prediction")
        if outputs.finished():  # predicted by an earlier run of this script
            predicted.append(outputs)
            continue
        start = time.perf_counter()
        predicted.append(predict_scene(engine, image, args.out / "prediction"))
        print(f"predicted {image.name} in {time.perf_counter() - start:.0f} s", flush=True)
    truths = [truth for _, truth in scenes]
    rows = []
    for separation in SEPARATIONS:
        made = [polygons_with(o, separation, args.out / "prediction") for o in predicted]
        record = run_inventory(
            [path for path, _ in made],
            args.out / f"inventory_{separation}",
            InventoryOptions(grid=args.grid, min_area=args.min_area),
            truth=truths,
        )
        rows.append({"separation": separation, "seconds": sum(s for _, s in made),
                     **record.model_dump(mode="json")})  # fmt: skip
    (args.out / "separation.json").write_text(json.dumps(rows, indent=2))
    print(table(rows))


def table(rows: list[dict]) -> str:
    truth = rows[0]["truth"]
    lines = [
        "| separation | count (truth) | area m2 (truth) | tail beta (truth) | cutoff m2 (truth)"
        " | mLS (truth) | matched | polygonise s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    nan = float("nan")
    true_tail = truth["tail"] or {}
    for row in rows:
        compare, tail = row["compare"], row["tail"] or {}
        cells = [
            row["separation"],
            f"{row['count']} ({truth['count']}; x{compare['count_ratio']:.2f})",
            f"{row['total_area_m2']:.0f} ({truth['total_area_m2']:.0f};"
            f" x{compare['area_ratio']:.3f})",
            f"{tail.get('exponent', nan):.2f} ({true_tail.get('exponent', nan):.2f})",
            f"{tail.get('cutoff_m2', nan):.0f} ({true_tail.get('cutoff_m2', nan):.0f})",
            f"{row['mls'] or nan:.2f} ({truth['mls'] or nan:.2f})",
            _matched(compare),
            f"{row['seconds']:.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _matched(compare: dict) -> str:
    """Share of true landslides matched one to one (IoU >= 0.5)."""
    every = (compare.get("matched_by_size") or {}).get("all") or {}
    return f"{every.get('matched', 0)}/{every.get('truth', 0)}"


if __name__ == "__main__":
    main()
