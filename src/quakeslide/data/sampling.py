"""Which tiles each training step sees: a pure function of (seed, epoch, rank).

Nothing depends on hidden random state, so a run resumed from a checkpoint draws the
same tiles and the same augmentations as a run that was never stopped, and every DDP
rank gets an equal, disjoint share.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
from torch.utils.data import Sampler


class TileDraw(NamedTuple):
    """One item of an epoch: tile `index`, copy `copy` (0 = as is) in epoch `epoch`."""

    epoch: int
    index: int
    copy: int


class EpochSampler(Sampler[TileDraw]):
    """Every tile `copies` times per epoch; shuffled by (seed, epoch) and split across ranks.

    With `shuffle` the rank shares are padded (by wrapping) to equal length, which DDP
    needs; without it (validation) every tile is seen exactly once over all ranks.
    """

    def __init__(
        self,
        tiles: int,
        copies: int = 1,
        seed: int = 0,
        shuffle: bool = True,
        rank: int = 0,
        replicas: int = 1,
    ):
        self.tiles, self.copies, self.seed, self.shuffle = tiles, copies, seed, shuffle
        self.rank, self.replicas = rank, replicas
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at the start of every epoch (also after a resume)."""
        self.epoch = epoch

    def _items(self) -> np.ndarray:
        items = np.arange(self.tiles * self.copies)
        if not self.shuffle:
            return items[self.rank :: self.replicas]
        items = np.random.default_rng([self.seed, self.epoch]).permutation(items)
        padded = -(-len(items) // self.replicas) * self.replicas
        items = np.resize(items, padded)
        return items[self.rank :: self.replicas]

    def __iter__(self) -> Iterator[TileDraw]:
        for item in self._items():
            yield TileDraw(self.epoch, int(item % self.tiles), int(item // self.tiles))

    def __len__(self) -> int:
        return len(self._items())
