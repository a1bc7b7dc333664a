"""Pick the compute device and numeric precision from what the machine really has.

bf16 autocast on a CPU without native bf16 (AVX2-only) runs about 12x slower than fp32,
so bf16 is chosen automatically only where the CPU advertises avx512_bf16 or AMX.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from quakeslide.errors import InputError

NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "amx_tile"})
PRECISIONS = ("auto", "32-true", "bf16-mixed", "16-mixed")


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """Feature flags of the first CPU in /proc/cpuinfo (empty where that file is absent)."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return frozenset()
    for line in cpuinfo.read_text().splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_has_native_bf16(flags: frozenset[str] | None = None) -> bool:
    return bool(NATIVE_BF16_FLAGS & (cpu_flags() if flags is None else flags))


@dataclass(frozen=True)
class ComputePlan:
    """Where and how to run: a torch device plus a Lightning precision string."""

    device: str  # "cpu" or "cuda"
    precision: str  # "32-true", "bf16-mixed" or "16-mixed"
    reason: str
    # NHWC layout: oneDNN and cuDNN run 3x3 convs fastest on it (measured on a Zen5 CPU:
    # LinkNet bf16 inference 70 -> 120 img/s); it does not change the arithmetic.
    channels_last: bool = True

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(self.precision)

    @property
    def train_channels_last(self) -> bool:
        """NHWC for training only on a GPU or under reduced-precision autocast: fp32 CPU
        training steps got no faster or slower on it (kernels limited to AVX2: U-Net
        0.87x, LinkNet 1.02x), while fp32 inference gained (1.38x, 1.16x)."""
        return self.channels_last and (self.device == "cuda" or self.autocast_dtype is not None)

    def train_channels_last_for(self, fp32_cpu_channels_last: bool) -> bool:
        """NHWC for training a model: as `train_channels_last`, and in fp32 on a CPU too for
        a model that trains faster in it there (`SegmentationNet.fp32_cpu_channels_last`)."""
        fp32_cpu = self.device == "cpu" and self.autocast_dtype is None
        return self.train_channels_last or (
            self.channels_last and fp32_cpu and fp32_cpu_channels_last
        )

    @property
    def accelerator(self) -> str:
        return "gpu" if self.device == "cuda" else "cpu"


def choose_device(requested: str = "auto") -> str:
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' requested but torch sees no CUDA GPU")
    if requested not in ("cpu", "cuda"):
        raise InputError(f"unknown device {requested!r}: use auto, cpu or cuda")
    return requested


def plan_compute(device: str = "auto", precision: str = "auto") -> ComputePlan:
    """Resolve 'auto' device and precision into a concrete plan with the reason for it."""
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    resolved = choose_device(device)
    if precision != "auto":
        if resolved == "cpu" and precision == "16-mixed":
            raise InputError("fp16 autocast is for GPUs; on CPU use 32-true or bf16-mixed")
        return ComputePlan(resolved, precision, "chosen by the user")
    return fastest_plan(resolved)


def plan_training(device: str, precision: str, cpu_training_autocast: bool) -> ComputePlan:
    """The plan `train` runs a model on: `plan_compute`'s, except that `auto` stays in fp32
    on a CPU for a model whose training steps run slower under bf16 autocast there
    (`SegmentationNet.cpu_training_autocast`)."""
    plan = plan_compute(device, precision)
    on_cpu_bf16 = plan.device == "cpu" and plan.autocast_dtype is not None
    if precision == "auto" and on_cpu_bf16 and not cpu_training_autocast:
        return ComputePlan("cpu", "32-true", "this model trains faster in fp32 on a CPU")
    return plan


def fastest_plan(device: str, flags: frozenset[str] | None = None) -> ComputePlan:
    """The plan 'auto' gets on `device` ("cpu" or "cuda"), from the CPU `flags` given
    (default: this machine's); the benchmark's fast path is this same plan."""
    if device == "cuda":
        if torch.cuda.is_bf16_supported():
            return ComputePlan("cuda", "bf16-mixed", "GPU supports bf16")
        return ComputePlan("cuda", "16-mixed", "GPU without bf16: fp16 autocast")
    if cpu_has_native_bf16(flags):
        return ComputePlan("cpu", "bf16-mixed", "CPU has native bf16 (avx512_bf16/amx)")
    return ComputePlan("cpu", "32-true", "CPU lacks native bf16: fp32 is faster here")


def configure_cpu_threads(processes: int = 1) -> int:
    """Share the cores this process may run on among `processes` local processes.

    torch may default to fewer threads in containers; several DDP processes on one CPU
    each taking every core would oversubscribe it (measured: ~10x slower).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    threads = max(1, cores // max(1, processes))
    torch.set_num_threads(threads)
    return threads


def is_launch_rank_zero() -> bool:
    """True in the process that was started by the user, not one started by a DDP launcher."""
    for variable in ("RANK", "LOCAL_RANK", "NODE_RANK"):
        if os.environ.get(variable, "0") != "0":
            return False
    return True
