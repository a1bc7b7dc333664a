"""Many scenes over many processes: under torchrun each rank maps its own share."""

from __future__ import annotations

import os
from pathlib import Path

import torch


def launch_ranks() -> tuple[int, int, int, int]:
    """(rank, world size, local rank, local world size) from torchrun's environment."""
    rank = int(os.environ.get("RANK", 0))
    world = int(os.environ.get("WORLD_SIZE", 1))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    return rank, world, local_rank, local_world


def my_scenes(scenes: list[Path]) -> list[Path]:
    """Scenes of this rank: every world-th scene from its rank (no communication needed)."""
    rank, world, _, _ = launch_ranks()
    return scenes[rank::world]


def bind_local_gpu() -> None:
    """With several processes per machine, each uses the GPU of its local rank."""
    _, world, local_rank, _ = launch_ranks()
    if world > 1 and torch.cuda.is_available():
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
