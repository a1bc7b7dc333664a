"""What turns a batch of windows into landslide probability: torch, or an ONNX model."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from quakeslide.data.dataset import Statistics
from quakeslide.device import ComputePlan
from quakeslide.errors import InputError
from quakeslide.models.folding import fold_batchnorm
from quakeslide.options import named


@dataclass(frozen=True)
class Engine:
    """`predict`: (N, C, H, W) pixel values 0..255 -> float32 (N, H, W) landslide probability.

    `statistics`: the training statistics the model normalises its input with, where known;
    `members`: the engines an ensemble averages (see :mod:`quakeslide.inference.ensemble`).
    """

    predict: Callable[[np.ndarray], np.ndarray]
    bands: int
    description: dict = field(default_factory=dict)
    calibrated_threshold: float | None = None  # F1-best on the validation tiles, if known
    statistics: Statistics | None = None
    members: tuple[Engine, ...] = ()

    def threshold(self, wanted: float | None, source: Path) -> float:
        """`wanted`, or with None ('auto') the model's calibrated threshold."""
        if wanted is not None:
            return wanted
        if self.calibrated_threshold is None:
            raise InputError(
                f"{source}: no calibrated threshold (trained before quakeslide recorded one);"
                f" give {named('threshold')} 0..1"
            )
        return self.calibrated_threshold


def torch_engine(
    net: torch.nn.Module, plan: ComputePlan, calibrated_threshold: float | None = None
) -> Engine:
    device = torch.device(plan.device)
    autocast = (
        torch.autocast(device.type, dtype=plan.autocast_dtype)
        if plan.autocast_dtype is not None
        else nullcontext()
    )
    bands = int(net.mean.shape[1])
    statistics = Statistics(net.mean.flatten().tolist(), net.std.flatten().tolist())
    net = fold_batchnorm(net.to(device))
    layout = torch.channels_last if plan.channels_last else torch.contiguous_format
    net = net.to(memory_format=layout)

    def predict(batch: np.ndarray) -> np.ndarray:
        images = torch.from_numpy(batch).to(device).float().div_(255.0)
        images = images.contiguous(memory_format=layout)
        with torch.inference_mode(), autocast:
            logits = net(images)
        return torch.softmax(logits.float(), dim=1)[:, 1].cpu().numpy()

    description = {"engine": "torch", "device": plan.device, "precision": plan.precision}
    return Engine(predict, bands, description, calibrated_threshold, statistics)


def onnx_engine(path: Path, threads: int | None = None) -> Engine:
    """An exported model run by onnxruntime (the `onnx` extra), on CPU."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise InputError(
            f"{named('onnx')} needs onnxruntime: pip install 'quakeslide[onnx]'"
        ) from None
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # missing file, not ONNX, truncated
        raise InputError(
            f"{path}: not a readable ONNX model ({' '.join(str(err).split())})"
        ) from None
    meta = session.get_modelmeta().custom_metadata_map
    if "quakeslide" not in meta:
        raise InputError(f"{path}: not an ONNX model exported by quakeslide")
    info = json.loads(meta["quakeslide"])
    name = session.get_inputs()[0].name

    def predict(batch: np.ndarray) -> np.ndarray:
        logits = session.run(None, {name: batch.astype(np.float32) / 255.0})[0]
        logits = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return (exp[:, 1] / exp.sum(axis=1)).astype(np.float32)

    description = {"engine": "onnxruntime", "device": "cpu", "precision": "32-true"}
    statistics = Statistics(info["mean"], info["std"])
    return Engine(predict, len(info["mean"]), description, info.get("threshold"), statistics)
