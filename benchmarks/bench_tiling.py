"""Tiling memory and speed on a large synthetic scene (issue: tiling reads by windows).

    python benchmarks/bench_tiling.py --size 20000 --work /tmp/bench_tiling

Writes the scene once (cached in --work), then tiles it in a child process and reports the
child's peak RSS and tiles per second as JSON (also saved as <work>/bench_tiling.json).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyogrio

from quakeslide.synthetic import SceneSpec, make_scene

TILE_CHILD = """
import sys
from quakeslide.data.tiling import TilingOptions, tile_scenes
options = TilingOptions(size=int(sys.argv[4]))
result = tile_scenes([sys.argv[1]], sys.argv[2], sys.argv[3], options, progress=False)
print(result.tiles, result.landslide_tiles)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20000)
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--density", type=float, default=0.035, help="landslide area fraction")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_tiling"))
    args = parser.parse_args()
    name = f"scene{args.size}"
    spec = SceneSpec(height=args.size, width=args.size, seed=7, landslide_density=args.density)
    image = args.work / f"{name}.tif"
    started = time.perf_counter()
    if not image.exists():
        make_scene(args.work, name, spec)
    generate_s = time.perf_counter() - started
    dataset = args.work / "dataset"
    shutil.rmtree(dataset, ignore_errors=True)
    polygons = args.work / f"{name}_landslides.gpkg"
    started = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-c", TILE_CHILD, str(image), str(polygons), str(dataset), str(args.tile)],
        check=True,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    tiles, landslide_tiles = (int(v) for v in child.stdout.split())
    report = {
        "scene_px": [args.size, args.size],
        "polygons": pyogrio.read_info(polygons)["features"],
        "tiles": tiles,
        "landslide_tiles": landslide_tiles,
        "tiling_seconds": round(seconds, 1),
        "tiles_per_second": round(tiles / seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "scene_generation_seconds": round(generate_s, 1),
    }
    (args.work / "bench_tiling.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
