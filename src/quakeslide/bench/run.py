"""`quakeslide bench`: this machine's conv peak, then U-Net and LinkNet, fp32 vs fast path.

Every job runs in its own child process (quakeslide.bench.child) so peak RSS is per job
and no measurement inherits another's caches or compiled kernels. Results are ratios from
one run: achieved GFLOP/s over the measured peak of the same precision, fast over fp32.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from quakeslide.bench.measure import model_gflop_per_image
from quakeslide.bench.paths import FP32, SpeedPath, fast_path
from quakeslide.device import choose_device, configure_cpu_threads, cpu_flags
from quakeslide.errors import InputError
from quakeslide.io.raster import atomic_path, writable_folder
from quakeslide.options import BenchOptions, named

TRAIN_FLOPS_FACTOR = 3  # forward + backward (two products per weight gradient and input)
# oneDNN's and ATen's kernels limited to AVX2 (the children read these before torch loads)
AVX2_ENVIRONMENT = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}


def avx2_flags(flags: frozenset[str]) -> frozenset[str]:
    """The CPU flags an AVX2-only machine of this kind would show: no AVX-512, no AMX."""
    return frozenset(f for f in flags if not f.startswith(("avx512", "amx")))


def run_bench(
    out: Path, options: BenchOptions | None = None, echo: Callable[[str], None] = print
) -> dict:
    """`emulate_avx2` runs every job with the kernels limited to AVX2 and chooses the fast
    path from AVX2 flags: what an AVX2-only CPU would get, measured on a newer one (the
    ratios carry over; absolute speeds and the core itself stay this machine's)."""
    o = options or BenchOptions()
    size, seconds, infer_batch, train_batch = o.size, o.seconds, o.infer_batch, o.train_batch
    models, compile, emulate_avx2 = o.models, o.compile, o.emulate_avx2
    device = choose_device(o.device)
    if emulate_avx2 and device != "cpu":
        raise InputError(
            f"{named('emulate_avx2')} applies to the CPU only (use {named('device')} cpu)"
        )
    writable_folder(out)
    flags = avx2_flags(cpu_flags()) if emulate_avx2 else None
    environment = AVX2_ENVIRONMENT if emulate_avx2 else {}
    paths = [FP32, fast_path(device, flags)]
    paths += [fast_path(device, flags, compile=True)] if compile else []
    base = {"device": device, "seconds": seconds, "size": size,
            "infer_batch": infer_batch, "train_batch": train_batch}  # fmt: skip
    started = time.perf_counter()
    jobs = [("peak", None, p) for p in _peak_paths(paths)]
    jobs += [("model", m, p) for m in models for p in paths]
    report: dict = {"machine": {**machine(device), "emulated_isa": environment or None},
                    "settings": base, "peak_gflops": {}, "models": {}}  # fmt: skip
    for kind, model, path in tqdm(jobs, desc="bench", unit="job"):
        job = {**base, "job": kind, "model": model, "path": path.to_json()}
        result = run_child(job, environment)
        report["machine"]["kernel_isa"] = result["kernel_isa"]
        report["machine"]["freed_memory_kept"] = result["freed_memory_kept"]
        if kind == "peak":
            report["peak_gflops"][path.precision] = round(result["gflops"], 1)
            continue
        flops = model_gflop_per_image(model, size)
        peak = report["peak_gflops"][path.precision]
        training = path.for_training(model)
        train_peak = report["peak_gflops"][training.precision]
        report["models"].setdefault(model, {"gflop_per_image": round(flops, 2)})[path.name] = {
            "precision": path.precision,
            "train_precision": training.precision,
            "channels_last": path.channels_last,
            "train_channels_last": training.channels_last,
            "compile": path.compile,
            "fold_batchnorm": path.fold_batchnorm,
            "infer_img_s": round(result["infer_img_s"], 2),
            "train_img_s": round(result["train_img_s"], 2),
            "infer_peak_frac": round(result["infer_img_s"] * flops / peak, 3),
            "train_peak_frac": round(
                result["train_img_s"] * flops * TRAIN_FLOPS_FACTOR / train_peak, 3
            ),
            "peak_rss_mb": round(result["peak_rss_mb"]),
        }
    for entry in report["models"].values():
        for name in (p.name for p in paths[1:]):
            for kind in ("infer", "train"):
                speedup = entry[name][f"{kind}_img_s"] / entry["fp32"][f"{kind}_img_s"]
                entry[name][f"{kind}_speedup"] = round(speedup, 2)
    report["data_wait"] = _data_wait(base, paths[1], models[-1], environment)
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    with atomic_path(out / "bench.json") as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    with atomic_path(out / "bench.md") as tmp:
        tmp.write_text(markdown_table(report))
    echo(markdown_table(report))
    return report


def machine(device: str) -> dict:
    flags = cpu_flags()
    interesting = sorted(f for f in flags if f.startswith(("avx", "amx", "fma")))
    return {
        "cpu": _cpu_model(),
        "cpu_flags": interesting,
        "threads": configure_cpu_threads(),
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def run_child(job: dict, environment: dict[str, str] | None = None) -> dict:
    command = [sys.executable, "-m", "quakeslide.bench.child", json.dumps(job)]
    env = {**os.environ, **(environment or {})}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark job {job['job']} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def markdown_table(report: dict) -> str:
    peaks = ", ".join(f"{k} {v} GFLOP/s" for k, v in report["peak_gflops"].items())
    emulated = " (kernels limited to AVX2: emulating an AVX2-only CPU)"
    lines = [
        f"CPU: {report['machine']['cpu']} ({report['machine']['threads']} threads), "
        f"device {report['machine']['device']}; measured 3x3 conv peak: {peaks}"
        + (emulated if report["machine"].get("emulated_isa") else "")
        + ("; malloc keeps freed memory" if report["machine"].get("freed_memory_kept") else ""),
        "",
        "| model | path | arithmetic | infer img/s | % of peak | train img/s | % of peak"
        " | speed-up infer / train | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for model, entry in report["models"].items():
        for name, r in entry.items():
            if not isinstance(r, dict):
                continue
            speedup = f"{r.get('infer_speedup', 1)} / {r.get('train_speedup', 1)}"
            lines.append(
                f"| {model} | {name} | {arithmetic(r)} | {r['infer_img_s']}"
                f" | {100 * r['infer_peak_frac']:.0f} % | {r['train_img_s']}"
                f" | {100 * r['train_peak_frac']:.0f} % | {speedup} | {r['peak_rss_mb']} |"
            )
    wait = report["data_wait"]
    lines += [
        "",
        f"Waiting for data: {100 * wait['fraction']:.1f} % of {wait['model']} training time"
        f" ({wait['path']} path, x5 augmentation, {wait['workers']} loader workers).",
    ]
    return "\n".join(lines) + "\n"


def arithmetic(entry: dict) -> str:
    """What a path of the report does, e.g. "bf16 + channels_last + BN folded (inference)"."""
    infers_in = entry["precision"]
    trains_in = entry.get("train_precision", infers_in)
    parts = (
        [infers_in]
        if trains_in == infers_in
        else [f"{infers_in} (inference)", f"{trains_in} (training)"]
    )
    if entry["channels_last"]:
        both = entry.get("train_channels_last", True)
        parts.append("channels_last" if both else "channels_last (inference)")
    parts += ["compile"] if entry["compile"] else []
    parts += ["BN folded (inference)"] if entry.get("fold_batchnorm") else []
    return " + ".join(parts)


def _peak_paths(paths: list[SpeedPath]) -> list[SpeedPath]:
    """One channels_last path per precision in use (the peak is layout-independent enough)."""
    by_precision = {p.precision: SpeedPath(f"peak-{p.precision}", True, p.autocast) for p in paths}
    return list(by_precision.values())


def _data_wait(
    base: dict, path: SpeedPath, model: str, environment: dict[str, str], steps: int = 30
) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        tiles = Path(folder)
        _write_random_tiles(tiles, base["size"], count=20)
        job = {**base, "job": "data", "model": model, "path": path.to_json(), "steps": steps,
               "tiles": str(tiles)}  # fmt: skip
        fraction = run_child(job, environment)["data_wait_fraction"]
    return {"fraction": round(fraction, 4), "model": model, "path": path.name, "workers": 0,
            "steps": steps}  # fmt: skip


def _write_random_tiles(folder: Path, size: int, count: int) -> None:
    rng = np.random.default_rng(0)
    (folder / "images").mkdir()
    (folder / "masks").mkdir()
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(
            folder / "images" / f"t{i}.png"
        )
        mask = (rng.random((size, size)) < 0.3).astype(np.uint8)
        Image.fromarray(mask).save(folder / "masks" / f"t{i}.png")


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"
