"""What test-time augmentation and ensembles cost: whole-scene predict windows/s for each.

    python benchmarks/bench_tta_ensemble.py --checkpoint RUN/checkpoints/best.ckpt \\
        --side 2048 --tta none,flip,d4 --members 1,3 --work /tmp/bench_tta

One synthetic scene is written once (cached in --work). Each (TTA, ensemble size) pair runs
`predict_scene` end to end in its own child process (the ensemble repeats --checkpoint,
or takes the first N of a comma list); the pairs alternate `--repeats` times and each keeps
its fastest run. Reports JSON (also <work>/bench_tta_ensemble.json): windows per second
and the slowdown against no TTA and one model, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from quakeslide.synthetic import SceneSpec, make_scene

CHILD = """
import json, sys, time
import numpy as np
from quakeslide.allocator import keep_freed_memory
from quakeslide.device import configure_cpu_threads, plan_compute
from quakeslide.inference.ensemble import load_models
from quakeslide.inference.predict import predict_scene
from quakeslide.inference.sliding import window_starts
from quakeslide.inference.tta import with_tta

models, tta, scene, out, tile, batch, side = sys.argv[1:8]
tile, batch, side = int(tile), int(batch), int(side)
configure_cpu_threads()
keep_freed_memory()
plan = plan_compute("auto", "auto")
engine = with_tta(load_models(models, plan)[0], tta)
engine.predict(np.zeros((batch, 3, tile, tile), np.uint8))  # warm-up
started = time.perf_counter()
predict_scene(engine, scene, out, tile=tile, batch_size=batch)
seconds = time.perf_counter() - started
windows = len(window_starts(side, tile, tile - tile // 4)) ** 2
print(json.dumps({"seconds": seconds, "windows": windows, "precision": plan.precision}))
"""


def ensemble_spec(checkpoints: list[str], members: int) -> str:
    if len(checkpoints) == 1:
        return ",".join(checkpoints * members)
    if members > len(checkpoints):
        sys.exit(f"--members {members}: only {len(checkpoints)} checkpoints given")
    return ",".join(checkpoints[:members])


def run_child(models: str, tta: str, scene: Path, args: argparse.Namespace) -> dict:
    out = args.work / "out"
    for stale in out.glob("*"):
        stale.unlink()
    command = [sys.executable, "-c", CHILD, models, tta, str(scene), str(out)]
    command += [str(args.tile), str(args.batch_size), str(args.side)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="one checkpoint or a comma list")
    parser.add_argument("--side", type=int, default=2048)
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--tta", default="none,flip,d4")
    parser.add_argument("--members", default="1,3", help="ensemble sizes")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each pair; fastest kept")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_tta_ensemble"))
    args = parser.parse_args()
    checkpoints = args.checkpoint.split(",")
    for path in checkpoints:
        if not Path(path).exists():
            sys.exit(f"{path}: no checkpoint (run `make demo` for one)")
    scene = args.work / "scene.tif"
    if not scene.exists():
        make_scene(args.work, "scene", SceneSpec(height=args.side, width=args.side, seed=7))
    pairs = [(t, int(m)) for m in args.members.split(",") for t in args.tta.split(",")]
    runs: dict[tuple[str, int], list[dict]] = {pair: [] for pair in pairs}
    for _ in range(args.repeats):
        for (tta, members), results in runs.items():
            results.append(run_child(ensemble_spec(checkpoints, members), tta, scene, args))
    fastest = {pair: min(results, key=lambda r: r["seconds"]) for pair, results in runs.items()}
    base = fastest[pairs[0]]["seconds"]
    rows = [
        {
            "tta": tta,
            "members": members,
            "windows": best["windows"],
            "seconds": round(best["seconds"], 2),
            "windows_per_second": round(best["windows"] / best["seconds"], 2),
            "slowdown": round(best["seconds"] / base, 2),
            "precision": best["precision"],
        }
        for (tta, members), best in fastest.items()
    ]
    report = {"checkpoint": args.checkpoint, "side_px": args.side, "tile": args.tile, "rows": rows}
    text = json.dumps(report, indent=2)
    (args.work / "bench_tta_ensemble.json").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
