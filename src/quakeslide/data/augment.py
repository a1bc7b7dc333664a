"""The paper's augmentations (rotation, flip, random crop, contrast, Gaussian noise).

Image and mask always move together: geometric steps resample the mask with nearest
neighbour, and pixels that enter the tile from outside (rotation corners) are 255 (ignore)
in the mask, so the loss never sees invented labels. Ignore pixels stay ignore.

One augmented copy draws, from its own random generator:
- a rotation by a multiple of 90 degrees and a horizontal flip (every one of the 8
  orientations equally likely; exact, no resampling);
- with probability 0.3, a further rotation by an angle uniform in [-15, 15] degrees;
- with probability 0.5, a random crop holding 60-100 % of the side, resized back;
- with probability 0.5, a contrast change: (x - mean) * c + mean, c uniform in [0.7, 1.3];
- with probability 0.5, Gaussian noise with sigma uniform in [2, 10] grey levels.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from quakeslide.io.mask_labels import IGNORE


def augment(
    image: np.ndarray, mask: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """image: (C, H, W) uint8, mask: (H, W) uint8 -> float32 image in 0..255, uint8 mask."""
    k = int(rng.integers(4))
    image, mask = np.rot90(image, k, axes=(1, 2)), np.rot90(mask, k)
    if rng.random() < 0.5:
        image, mask = image[:, :, ::-1], mask[:, ::-1]
    pixels = image.astype(np.float32)
    mask = np.ascontiguousarray(mask)
    if rng.random() < 0.3:
        pixels, mask = _rotate(pixels, mask, float(rng.uniform(-15, 15)))
    if rng.random() < 0.5:
        pixels, mask = _crop_resize(pixels, mask, float(rng.uniform(0.6, 1.0)), rng)
    if rng.random() < 0.5:
        mean = pixels.mean(axis=(1, 2), keepdims=True)
        pixels = (pixels - mean) * float(rng.uniform(0.7, 1.3)) + mean
    if rng.random() < 0.5:
        pixels = pixels + rng.normal(0.0, rng.uniform(2, 10), pixels.shape).astype(np.float32)
    return np.clip(pixels, 0, 255), mask


def random_crop(
    image: np.ndarray, mask: np.ndarray, side: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A random side x side window (the whole tile when it is not larger than `side`)."""
    height, width = mask.shape
    if height <= side and width <= side:
        return image, mask
    row = int(rng.integers(height - side + 1)) if height > side else 0
    col = int(rng.integers(width - side + 1)) if width > side else 0
    return image[:, row : row + side, col : col + side], mask[row : row + side, col : col + side]


def _rotate(pixels: np.ndarray, mask: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    rotated = ndimage.rotate(pixels, degrees, axes=(2, 1), reshape=False, order=1, cval=0.0)
    labels = ndimage.rotate(mask, degrees, reshape=False, order=0, cval=IGNORE)
    return rotated.astype(np.float32), labels


def _crop_resize(
    pixels: np.ndarray, mask: np.ndarray, keep: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    height, width = mask.shape
    side_h, side_w = max(1, round(height * keep)), max(1, round(width * keep))
    row = int(rng.integers(height - side_h + 1))
    col = int(rng.integers(width - side_w + 1))
    window = pixels[:, row : row + side_h, col : col + side_w]
    labels = mask[row : row + side_h, col : col + side_w]
    zoom = (height / side_h, width / side_w)
    resized = ndimage.zoom(window, (1, *zoom), order=1, grid_mode=True, mode="nearest")
    resized_mask = ndimage.zoom(labels, zoom, order=0, grid_mode=True, mode="nearest")
    return resized[:, :height, :width], resized_mask[:height, :width]
