"""Shared test fixtures and helpers: the real data's paths, tile writers, the slow marker.

`pytest -m "not slow"` leaves out the subprocess, end-to-end and DDP tests for a quick
loop; `make test` runs everything.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

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
