"""One benchmark job in its own process, so its peak RSS is its own: JSON in argv, JSON out.

python -m quakeslide.bench.child '{"job": "model", "model": "linknet", ...}'
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from quakeslide.allocator import keep_freed_memory
from quakeslide.bench.measure import (
    conv_peak_gflops,
    data_wait_fraction,
    inference_rate,
    peak_rss_mb,
    training_rate,
)
from quakeslide.bench.paths import SpeedPath
from quakeslide.device import configure_cpu_threads


def run_job(job: dict) -> dict:
    torch.manual_seed(0)
    path = SpeedPath.from_json(job["path"])
    device, seconds = job["device"], job["seconds"]
    if job["job"] == "peak":
        result = {"gflops": conv_peak_gflops(path, device, seconds)}
    elif job["job"] == "model":
        model, size = job["model"], job["size"]
        result = {
            "infer_img_s": inference_rate(model, path, device, job["infer_batch"], size, seconds),
            "train_img_s": training_rate(model, path, device, job["train_batch"], size, seconds),
        }
    else:
        fraction = data_wait_fraction(
            job["model"], path, device, job["train_batch"], job["size"], job["steps"],
            Path(job["tiles"]),
        )  # fmt: skip
        result = {"data_wait_fraction": fraction}
    kernels = torch.backends.cpu.get_cpu_capability()  # e.g. AVX2, AVX512: what ATen runs
    return {**result, "peak_rss_mb": peak_rss_mb(), "kernel_isa": kernels,
            "freed_memory_kept": keep_freed_memory()}  # fmt: skip


if __name__ == "__main__":
    configure_cpu_threads()
    keep_freed_memory()  # in every job, fp32 too, as `train` runs
    print(json.dumps(run_job(json.loads(sys.argv[1]))))
