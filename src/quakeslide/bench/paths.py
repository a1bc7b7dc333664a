"""The ways a model can run on this machine: plain fp32, and the fast path.

The fast path is what `train` and `predict` run by default (`device.fastest_plan`):
channels_last memory layout, BatchNorm folded into the convolutions for inference, bf16
autocast where the device has native bf16 (CPUs with avx512_bf16 / AMX, GPUs with bf16),
fp16 autocast on GPUs without it, and plain fp32 arithmetic elsewhere. bf16 is never
chosen for a CPU without native support: measured 12x slower than fp32 on an AVX2-only
EPYC.
"""

from __future__ import annotations

import dataclasses
from contextlib import nullcontext
from dataclasses import dataclass

import torch

from quakeslide.device import ComputePlan, fastest_plan
from quakeslide.models import MODELS

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class SpeedPath:
    name: str
    channels_last: bool
    autocast: torch.dtype | None  # None: fp32 arithmetic
    compile: bool = False
    fold_batchnorm: bool = False  # inference only, as predict does
    train_channels_last: bool = False
    # training layout of a model that prefers NHWC in fp32 on a CPU (`for_training`)
    preferring_train_channels_last: bool = False
    # bf16 autocast that `auto` chose on a CPU: a model that trains slower under it there
    # trains in fp32 (`device.plan_training`)
    cpu_autocast: bool = False

    @property
    def precision(self) -> str:
        """The precision whose measured peak this path is compared with."""
        return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(self.autocast, "fp32")

    def for_training(self, model: str) -> SpeedPath:
        """This path as `train` runs `model` on it (its arithmetic and memory layout)."""
        cls = MODELS[model].cls
        prefers = cls.fp32_cpu_channels_last
        if self.cpu_autocast and not cls.cpu_training_autocast:
            nhwc = ComputePlan("cpu", "32-true", "").train_channels_last_for(prefers)
            return dataclasses.replace(self, autocast=None, channels_last=nhwc)
        nhwc = self.preferring_train_channels_last if prefers else self.train_channels_last
        return dataclasses.replace(self, channels_last=nhwc)

    def context(self, device: str):
        """Autocast for this path on `device` (a no-op context for fp32)."""
        if self.autocast is None:
            return nullcontext()
        return torch.autocast(torch.device(device).type, dtype=self.autocast)

    def prepare(self, module: torch.nn.Module) -> torch.nn.Module:
        return module.to(memory_format=torch.channels_last) if self.channels_last else module

    def layout(self, batch: torch.Tensor) -> torch.Tensor:
        return batch.contiguous(memory_format=torch.channels_last) if self.channels_last else batch

    def to_json(self) -> dict:
        fields = dataclasses.asdict(self)
        del fields["autocast"]
        return {**fields, "precision": self.precision}

    @classmethod
    def from_json(cls, fields: dict) -> SpeedPath:
        fields = dict(fields)
        autocast = DTYPES.get(fields.pop("precision"))
        return cls(**fields, autocast=autocast)


FP32 = SpeedPath("fp32", channels_last=False, autocast=None)


def fast_path(device: str, flags: frozenset[str] | None = None, compile: bool = False) -> SpeedPath:
    """The plan `train` and `predict` choose on `device` by default, as a SpeedPath."""
    plan = fastest_plan(device, flags)
    return SpeedPath(
        "fast+compile" if compile else "fast",
        channels_last=plan.channels_last,
        autocast=plan.autocast_dtype,
        compile=compile,
        fold_batchnorm=True,
        train_channels_last=plan.train_channels_last,
        preferring_train_channels_last=plan.train_channels_last_for(True),
        cpu_autocast=plan.device == "cpu" and plan.autocast_dtype is not None,
    )
