"""torch Dataset over a dataset folder (images/<stem>.*, masks/<stem>.png)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import rasterio
import torch
from PIL import Image
from rasterio.enums import ColorInterp
from torch.utils.data import Dataset

from quakeslide.data.augment import augment, random_colour, random_crop, random_orientation
from quakeslide.data.sampling import TileDraw
from quakeslide.errors import InputError, first_line
from quakeslide.folders import DatasetFolder
from quakeslide.io.mask_labels import detect_encoding

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")


def list_stems(dataset: Path, split: str | None = None) -> list[str]:
    """Stems of a dataset: from `<split>.txt` when given, else every image with a mask."""
    dataset = Path(dataset)
    folder = DatasetFolder(dataset)
    if split is not None:
        split_file = folder.split_list(split)
        if not split_file.exists():
            raise InputError(f"{split_file}: split list not found")
        return [s.strip() for s in split_file.read_text().splitlines() if s.strip()]
    for sub in (folder.images, folder.masks):
        if not sub.is_dir():
            raise InputError(
                f"{dataset}: no {sub.name}/ folder (a dataset holds images/ and masks/)"
            )
    masks = {p.stem for p in folder.masks.glob("*.png")}
    stems = sorted(
        p.stem
        for p in folder.images.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and p.stem in masks
    )
    if not stems:
        raise InputError(f"{dataset}: no image with a matching mask under images/ and masks/")
    return stems


def read_image(path: Path) -> np.ndarray:
    """(bands, H, W) uint8 array of an image tile of any supported format; an alpha band
    is dropped (as `tile` treats it: a validity mask, not data)."""
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            with rasterio.open(path) as src:
                keep = [i + 1 for i, c in enumerate(src.colorinterp) if c != ColorInterp.alpha]
                return src.read(keep)
        with Image.open(path) as image:
            if image.mode not in ("L", "RGB"):
                image = image.convert("RGB")
            pixels = np.asarray(image)
    except (OSError, ValueError, rasterio.errors.RasterioError) as err:  # truncated, empty, ...
        raise InputError(f"{path}: not a readable image ({first_line(err)})") from None
    return (pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)).copy()


def read_mask(path: Path, image: np.ndarray, image_path: Path) -> np.ndarray:
    """A tile's mask, which must match its image's size."""
    try:
        with Image.open(path) as picture:
            mask = np.array(picture)
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: not a readable mask ({first_line(err)})") from None
    if mask.shape[:2] != image.shape[1:]:
        raise InputError(
            f"{path}: mask is {mask.shape[0]}x{mask.shape[1]} px, its image {image_path.name}"
            f" {image.shape[1]}x{image.shape[2]}"
        )
    return mask


def find_image(dataset: Path, stem: str) -> Path:
    for suffix in IMAGE_SUFFIXES:
        path = DatasetFolder(dataset).image(stem, suffix)
        if path.exists():
            return path
    raise InputError(f"{dataset}/images: no image for tile {stem!r}")


def tile_pixel_size(dataset: Path, stem: str) -> float | None:
    """Metres per pixel of a georeferenced tile in a projected CRS, else None."""
    with rasterio.Env(), rasterio.open(find_image(dataset, stem)) as src:
        if src.crs is None or src.crs.is_geographic or src.transform.is_identity:
            return None
        return abs(src.transform.a) * src.crs.linear_units_factor[1]


def mask_lut(dataset: Path, masks: list[np.ndarray]) -> np.ndarray:
    """Map raw mask values to 0 / 1 / 255 (ignore).

    Datasets written by `quakeslide tile` (with dataset.json) already use that contract;
    other image/mask folders are detected from their values, e.g. {0, 255} = landslide 255.
    """
    if DatasetFolder(dataset).info.exists():
        return np.arange(256, dtype=np.uint8)
    if any(m.ndim != 2 for m in masks):
        raise InputError(f"{dataset}/masks: colour masks; convert them with `quakeslide tile`")
    values = set().union(*(np.unique(m).tolist() for m in masks))
    return detect_encoding(values, source=f"{dataset}/masks").lut


class TileDataset(Dataset):
    """Tiles held in memory as uint8; yields (float image in [0, 1], long mask).

    Items are addressed by a `TileDraw` (epoch, tile, copy) or a plain tile index. With
    `augment`, copies other than 0 are augmented (data/augment.py) by a generator seeded
    from (seed, epoch, tile, copy), so a draw is reproducible wherever it happens. Copy 0
    is the tile as is (the paper's), or with `first_copy="dihedral"` the tile in a random
    one of its 8 orientations (exact, so the tile's edges stay its edges), or with
    `first_copy="jitter"` randomly oriented and with its colours jittered. With
    `crop`, every item is a random crop of that side (smaller windows, faster steps).
    """

    def __init__(
        self,
        dataset: Path,
        stems: list[str],
        augment: bool = False,
        seed: int = 0,
        crop: int | None = None,
        first_copy: str = "as-is",
    ):
        dataset = Path(dataset)
        self.stems = list(stems)
        self.paths = paths = [find_image(dataset, s) for s in self.stems]
        self.images = [read_image(path) for path in paths]
        bands = self.images[0].shape[0]
        odd = [(p, image) for p, image in zip(paths, self.images, strict=True)
               if image.shape[0] != bands]  # fmt: skip
        if odd:
            path, image = odd[0]
            raise InputError(
                f"{path}: {image.shape[0]} band(s), {paths[0].name} has {bands}:"
                " the tiles of a dataset share their bands"
            )
        folder = DatasetFolder(dataset)
        masks = [
            read_mask(folder.mask(s), image, path)
            for s, image, path in zip(self.stems, self.images, paths, strict=True)
        ]
        lut = mask_lut(dataset, masks)
        self.masks = [lut[m] for m in masks]
        self.augment, self.seed, self.crop = augment, seed, crop
        self.first_copy = first_copy

    def __len__(self) -> int:
        return len(self.stems)

    def __getitem__(self, key: TileDraw | int) -> tuple[torch.Tensor, torch.Tensor]:
        draw = key if isinstance(key, TileDraw) else TileDraw(0, int(key), 0)
        image, mask = self.images[draw.index], self.masks[draw.index]
        rng = np.random.default_rng([self.seed, draw.epoch, draw.index, draw.copy])
        if self.augment and draw.copy > 0:
            image, mask = augment(image, mask, rng)
        elif draw.copy == 0 and self.first_copy in ("dihedral", "jitter"):
            image, mask = random_orientation(image, mask, rng)
            if self.first_copy == "jitter":
                image = random_colour(image, rng)
        if self.crop is not None:
            image, mask = random_crop(image, mask, self.crop, rng)
        image_t = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).div_(255.0)
        return image_t, torch.from_numpy(np.ascontiguousarray(mask)).long()

    def landslide_pixels(self) -> int:
        return int(sum(np.count_nonzero(m == 1) for m in self.masks))


class Statistics(NamedTuple):
    """Per-band mean and standard deviation of pixels, in [0, 1] units."""

    mean: list[float]
    std: list[float]


MIN_STD = 1e-3  # a flat band (one value) is not divided by zero


def channel_stats(
    images: Iterable[np.ndarray], valid: Iterable[np.ndarray] | None = None
) -> Statistics:
    """Per-band mean and std of uint8 (C, H, W) images, in [0, 1] units, for input
    normalisation; with `valid` (a bool (H, W) mask per image), of the valid pixels only."""
    pairs = zip(images, valid, strict=True) if valid is not None else ((i, None) for i in images)
    total: np.ndarray | None = None
    total_sq: np.ndarray | None = None
    count = 0
    for image, ok in pairs:
        pixels = image.reshape(image.shape[0], -1) if ok is None else image[:, ok]
        flat = pixels.astype(np.float64) / 255.0
        sums, squares = flat.sum(axis=1), (flat**2).sum(axis=1)
        total = sums if total is None else total + sums
        total_sq = squares if total_sq is None else total_sq + squares
        count += flat.shape[1]
    if total is None or total_sq is None or count == 0:
        raise InputError("no valid pixel to take statistics from")
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, MIN_STD**2))
    return Statistics(mean.tolist(), std.tolist())
