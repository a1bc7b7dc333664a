"""Timed measurements: the machine's 3x3 convolution peak, model inference and training.

Each measurement warms up, then repeats its step for at least `seconds` and reports the
rate of the whole period (no per-step timer overhead), synchronising CUDA where present.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from quakeslide.bench.paths import SpeedPath
from quakeslide.classes import IGNORE
from quakeslide.data.dataset import TileDataset, list_stems
from quakeslide.data.sampling import EpochSampler
from quakeslide.models import build_model
from quakeslide.models.complexity import count_macs
from quakeslide.models.folding import fold_batchnorm
from quakeslide.training.optimizer import make_adam

# (batch, channels, side): large enough to be compute bound, like U-Net's wide layers
PEAK_SHAPES = ((8, 128, 128), (4, 256, 64), (16, 64, 128))


def rate(step: Callable[[], None], items: int, seconds: float, warmup: int = 2) -> float:
    """Items per second of `step` (which handles `items` items) over >= `seconds`."""
    for _ in range(warmup):
        step()
    _sync()
    runs, started = 0, time.perf_counter()
    while True:
        step()
        runs += 1
        _sync()
        elapsed = time.perf_counter() - started
        if elapsed >= seconds and runs >= 3:
            return runs * items / elapsed


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def conv_peak_gflops(path: SpeedPath, device: str, seconds: float) -> float:
    """Best GFLOP/s of a bias-free 3x3 convolution over PEAK_SHAPES, under `path`."""
    best = 0.0
    for batch, channels, side in PEAK_SHAPES:
        conv = path.prepare(nn.Conv2d(channels, channels, 3, padding=1, bias=False).to(device))
        x = path.layout(torch.randn(batch, channels, side, side, device=device))
        flops = 2 * channels * channels * 9 * side * side  # per image
        best = max(best, _forward_rate(conv, x, path, device, seconds) * flops / 1e9)
    return best


def _forward_rate(
    module: nn.Module, x: torch.Tensor, path: SpeedPath, device: str, seconds: float
) -> float:
    def step() -> None:
        with torch.inference_mode(), path.context(device):
            module(x)

    return rate(step, len(x), seconds)


def model_gflop_per_image(model: str, size: int) -> float:
    """Forward GFLOP of one image (2 x multiply-accumulates)."""
    return 2 * count_macs(build_model(model), size, size) / 1e9


def inference_rate(
    model: str, path: SpeedPath, device: str, batch: int, size: int, seconds: float
) -> float:
    net = build_model(model).to(device).eval()
    net = path.prepare(fold_batchnorm(net) if path.fold_batchnorm else net)
    run = torch.compile(net) if path.compile else net
    x = path.layout(torch.rand(batch, 3, size, size, device=device))
    return _forward_rate(run, x, path, device, seconds)


def training_rate(
    model: str, path: SpeedPath, device: str, batch: int, size: int, seconds: float
) -> float:
    """Images per second of full steps: forward, cross-entropy, backward, Adam update."""
    path = path.for_training(model)
    net = path.prepare(build_model(model).to(device).train())
    run = torch.compile(net) if path.compile else net
    optimizer = make_adam(net.parameters(), 1e-3, (0.9, 0.999))  # as training
    loss_fn = nn.CrossEntropyLoss(ignore_index=IGNORE)
    x = path.layout(torch.rand(batch, 3, size, size, device=device))
    y = torch.randint(0, 2, (batch, size, size), device=device)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with path.context(device):
            loss = loss_fn(run(x).float(), y)
        loss.backward()
        optimizer.step()

    return rate(step, batch, seconds)


def data_wait_fraction(
    model: str, path: SpeedPath, device: str, batch: int, size: int, steps: int, tiles: Path
) -> float:
    """Share of a training loop's time spent waiting for the next augmented batch.

    The loader is the one training uses (EpochSampler, x5 augmentation, workers as
    configured: none by default on small CPUs), over the tile folder `tiles`.
    """
    path = path.for_training(model)
    dataset = TileDataset(tiles, list_stems(tiles), augment=True)
    loader = DataLoader(dataset, batch_size=batch, sampler=EpochSampler(len(dataset), copies=5))
    net = path.prepare(build_model(model).to(device).train())
    optimizer = make_adam(net.parameters(), 1e-3, (0.9, 0.999))  # as training
    loss_fn = nn.CrossEntropyLoss(ignore_index=IGNORE)
    waiting = computing = 0.0
    batches = iter(loader)
    for step in range(steps + 1):
        started = time.perf_counter()
        try:
            image, mask = next(batches)
        except StopIteration:
            batches = iter(loader)
            image, mask = next(batches)
        loaded = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with path.context(device):
            loss = loss_fn(net(path.layout(image.to(device))).float(), mask.to(device))
        loss.backward()
        optimizer.step()
        _sync()
        if step > 0:  # the first step pays for warm-up
            waiting += loaded - started
            computing += time.perf_counter() - loaded
    return waiting / (waiting + computing)
