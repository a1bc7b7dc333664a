"""Training and validation loaders whose order is a function of (seed, epoch, rank)."""

from __future__ import annotations

import lightning as L
from torch.utils.data import DataLoader

from quakeslide.data.dataset import TileDataset
from quakeslide.data.sampling import EpochSampler


class TileDataModule(L.LightningDataModule):
    """Loaders built once the trainer knows this process's rank and the world size.

    Lightning's own distributed sampler is switched off (use_distributed_sampler=False):
    `EpochSampler` shards by rank itself and stays reproducible across resumes.
    """

    def __init__(
        self,
        train_set: TileDataset,
        val_set: TileDataset,
        batch_size: int,
        copies: int,
        seed: int,
        num_workers: int = 0,
    ):
        super().__init__()
        self.train_set, self.val_set = train_set, val_set
        self.batch_size, self.copies, self.seed = batch_size, copies, seed
        self.num_workers = num_workers

    def train_dataloader(self) -> DataLoader:
        sampler = EpochSampler(
            len(self.train_set),
            copies=self.copies,
            seed=self.seed,
            rank=self.trainer.global_rank,
            replicas=self.trainer.world_size,
        )
        return DataLoader(
            self.train_set,
            batch_size=self.batch_size,
            sampler=sampler,
            drop_last=len(sampler) > self.batch_size,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def val_dataloader(self) -> DataLoader:
        sampler = EpochSampler(
            len(self.val_set),
            shuffle=False,
            rank=self.trainer.global_rank,
            replicas=self.trainer.world_size,
        )
        return DataLoader(
            self.val_set,
            batch_size=self.batch_size * 2,
            sampler=sampler,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )
