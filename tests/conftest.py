"""Shared test fixtures and helpers: the real data's paths, tile writers, the slow marker.

`pytest -m "not slow"` leaves out the subprocess, end-to-end and DDP tests for a quick
loop; `make test` runs everything.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image

from quakeslide.classes import CLASS_NAMES
from quakeslide.inference.engines import Engine
from quakeslide.models.checkpoint import NormalizedNet, checkpoint_metadata, save_net

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
JIUZHAIGOU = SHARED_DATA / "jiuzhaigou"
requires_jiuzhaigou = pytest.mark.skipif(
    not JIUZHAIGOU.exists(), reason="../shared/data/jiuzhaigou not present"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: subprocess, end-to-end or DDP test (deselect with -m 'not slow')"
    )


def write_tile_dataset(
    root: Path, rows: int = 4, cols: int = 4, size: int = 32, seed: int = 0, landslides=True
) -> list[str]:
    """A rows x cols grid of touching tiles named by offsets; landslides are bright blobs."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[:size, :size]
    stems = []
    for r in range(rows):
        for c in range(cols):
            mask = np.zeros((size, size), np.uint8)
            if landslides:
                cy, cx = rng.integers(4, size - 4, 2)
                mask[(yy - cy) ** 2 + (xx - cx) ** 2 < rng.integers(9, 64)] = 1
            image = rng.integers(40, 110, (size, size, 3)).astype(np.uint8)
            image[mask == 1] += 100
            stem = f"scn_{r * size}_{(r + 1) * size}_{c * size}_{(c + 1) * size}"
            Image.fromarray(image).save(root / "images" / f"{stem}.png")
            Image.fromarray(mask).save(root / "masks" / f"{stem}.png")
            stems.append(stem)
    return stems


def merge_tile_dataset(part: Path, root: Path, rename: Callable[[str], str]) -> list[str]:
    """Move every tile of dataset `part` into dataset `root` under a new stem; the new stems."""
    stems = []
    for image in sorted((part / "images").iterdir()):
        stem = rename(image.stem)
        for folder in ("images", "masks"):
            (root / folder).mkdir(parents=True, exist_ok=True)
            (part / folder / image.name).rename(root / folder / f"{stem}{image.suffix}")
        stems.append(stem)
    return stems


def write_scenes_dataset(
    root: Path, scenes: int = 4, rows: int = 2, cols: int = 3, size: int = 16
) -> list[str]:
    """`scenes` source scenes of rows x cols touching tiles each, named scene<k>_<offsets>."""
    stems = []
    for k in range(scenes):
        part = root.parent / f"{root.name}_part{k}"
        write_tile_dataset(part, rows=rows, cols=cols, size=size, seed=k)
        stems += merge_tile_dataset(
            part, root, lambda stem, k=k: stem.replace("scn_", f"scene{k}_")
        )
    return sorted(stems)


# Training settings and helpers shared by the training, fine-tuning and self-training tests
TINY = {
    "epochs": 3,
    "batch_size": 4,
    "augment": 2,
    "crop": 24,
    "step_size": 2,
    "precision": "32-true",
    "accelerator": "cpu",
}
FINE = TINY | {"epochs": 2, "augment": 1, "crop": None}


class Crash(Exception):
    pass


class CrashAtEpoch(L.Callback):
    """Stands in for a kill: the run dies as epoch `epoch` begins."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, module):
        if trainer.current_epoch == self.epoch:
            raise Crash


def metric_rows(run: Path) -> list[dict]:
    with open(run / "metrics.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k != "epoch_seconds"} for row in csv.DictReader(f)]


def weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    return torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]


# the "model" predicts band 0 / 255: each test writes the prediction it wants into band 0
BAND_ZERO = Engine(lambda batch: batch[:, 0].astype(np.float32) / 255.0, 3)


def write_tiles(root, tiles: dict[str, tuple[np.ndarray, np.ndarray]]):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for stem, (predicted, truth) in tiles.items():
        image = np.zeros((*truth.shape, 3), np.uint8)
        image[..., 0] = np.where(predicted, 200, 20)
        Image.fromarray(image).save(root / "images" / f"{stem}.png")
        Image.fromarray(truth).save(root / "masks" / f"{stem}.png")
    return root


def save_checkpoint(path, bands=3, classes=CLASS_NAMES):
    net = NormalizedNet("linknet", [0.5] * bands, [0.25] * bands)
    meta = checkpoint_metadata("linknet", [0.5] * bands, [0.25] * bands, 32, classes)
    return save_net(net, meta, path)


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> Path:
    """A 3 x 3 grid of 32 px synthetic tiles shared by the session: tests read it and never
    change a tile (a module may add its split lists)."""
    root = tmp_path_factory.mktemp("tiles")
    write_tile_dataset(root, rows=3, cols=3, size=32)
    return root


@pytest.fixture(scope="session")
def parent(dataset, tmp_path_factory) -> Path:
    """One epoch of TINY on `dataset`: a trained checkpoint to fine-tune from or label with."""
    from quakeslide.config import TrainConfig
    from quakeslide.training.fit import train

    out = tmp_path_factory.mktemp("parent") / "run"
    return (
        train(dataset, out, TrainConfig(**(TINY | {"epochs": 1}))).run / "checkpoints" / "last.ckpt"
    )
