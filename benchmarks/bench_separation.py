#!/usr/bin/env python
"""Speed and memory of keeping touching landslides apart, on a scene of 16,000 px a side.

Usage:
    python benchmarks/bench_separation.py [--size 16384] [--work DIR]

A synthetic scene's truth mask (2048 px, seed 100, 11 % landslide, touching scars) is
tiled to `--size` px a side and read in bands of 256 rows, as predict hands its bands to
the polygons; its probability is the mask blurred (sigma 2 px), so the probability method
sees soft edges. Each separation (none, shape, probability) runs in a process of its own:
the table gives the polygons made, the seconds of polygonising and the peak resident
memory, with each method's time and memory as a ratio to `none` in the same run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import rasterio
from scipy import ndimage

BAND_ROWS = 256
SEPARATIONS = ("none", "shape", "probability")


def pattern(work: Path) -> tuple[np.ndarray, np.ndarray]:
    """The 2048 px truth mask of synthetic scene 100 and its blurred probability."""
    from quakeslide.synthetic import SceneSpec, make_scene

    mask_path = work / "scene_100_mask.tif"
    if not mask_path.exists():
        make_scene(work, "scene_100", SceneSpec(seed=100))
    with rasterio.open(mask_path) as src:
        mask = src.read(1) == 1
    probability = ndimage.gaussian_filter(mask.astype(np.float32), 2.0)
    return mask, probability


def child(work: Path, size: int, separation: str) -> dict:
    """One separation over the tiled scene: polygons, seconds, peak memory."""
    from affine import Affine
    from rasterio.crs import CRS

    from quakeslide.io.regions import iter_regions
    from quakeslide.io.vectors import iter_landslides

    mask, probability = pattern(work)
    side = mask.shape[0]

    def read_band(row0: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
        index = np.arange(row0, row0 + rows) % side
        columns = np.arange(size) % side
        return mask[np.ix_(index, columns)], probability[np.ix_(index, columns)]

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    regions = iter_regions(read_band, size, BAND_ROWS, separation)
    count = 0
    for chunk in iter_landslides(regions, Affine(0.61, 0, 0, 0, -0.61, 0), CRS.from_epsg(32648)):
        count += len(chunk)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"separation": separation, "polygons": count, "seconds": round(seconds, 1),
            "peak_mb": round(peak / 1024), "grown_mb": round((peak - before) / 1024)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16384)
    parser.add_argument("--work", type=Path, default=Path("bench-separation"))
    parser.add_argument("--child", choices=SEPARATIONS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.child:
        print(json.dumps(child(args.work, args.size, args.child)))
        return
    pattern(args.work)  # the scene is made once, outside the timed children
    rows = []
    for separation in SEPARATIONS:
        command = [sys.executable, __file__, "--size", str(args.size), "--work", str(args.work),
                   "--child", separation]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    base = rows[0]
    print(f"\n{args.size} x {args.size} px, bands of {BAND_ROWS} rows\n")
    print("| separation | polygons | seconds | x none | peak MB | grown MB |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['separation']} | {row['polygons']:,} | {row['seconds']} |"
              f" {row['seconds'] / base['seconds']:.2f} | {row['peak_mb']} |"
              f" {row['grown_mb']} |")  # fmt: skip


if __name__ == "__main__":
    main()
