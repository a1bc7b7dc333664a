"""Augmentations keep image and mask aligned; the sampler is a pure function of its inputs."""

import numpy as np
import pytest
import torch
from conftest import write_tile_dataset

from quakeslide.classes import IGNORE
from quakeslide.data.augment import augment, random_colour, random_crop, random_orientation
from quakeslide.data.dataset import TileDataset
from quakeslide.data.sampling import EpochSampler, TileDraw


def square_tile(size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    mask = np.zeros((size, size), np.uint8)
    mask[10:30, 20:50] = 1
    mask[:, :4] = IGNORE
    image = np.where(mask == 1, 220, 30).astype(np.uint8)[None].repeat(3, axis=0)
    return image, mask


@pytest.mark.parametrize("seed", range(40))
def test_augmented_image_and_mask_stay_aligned(seed):
    image, mask = square_tile()
    out_image, out_mask = augment(image, mask, np.random.default_rng(seed))
    assert out_image.shape == image.shape and out_mask.shape == mask.shape
    assert set(np.unique(out_mask)) <= {0, 1, IGNORE}
    brightness = out_image.mean(axis=0)
    # landslide pixels keep the bright value, background the dark one (up to noise/contrast)
    assert brightness[out_mask == 1].mean() > 150
    assert brightness[out_mask == 0].mean() < 100
    assert out_image.min() >= 0 and out_image.max() <= 255


def test_rotation_corners_become_ignore_never_background():
    image, mask = square_tile()
    mask[:] = 1
    rotated = [augment(image, mask, np.random.default_rng(s))[1] for s in range(60)]
    assert any((m == IGNORE).any() for m in rotated), "no draw rotated by a free angle"
    assert all(not (m == 0).any() for m in rotated)


def test_an_all_ignore_mask_stays_ignore():
    image, _ = square_tile()
    mask = np.full((64, 64), IGNORE, np.uint8)
    for seed in range(20):
        assert (augment(image, mask, np.random.default_rng(seed))[1] == IGNORE).all()


def test_random_orientation_draws_all_eight_exactly_and_keeps_the_edges():
    image, mask = square_tile()
    image[1] = np.arange(64, dtype=np.uint8)[None, :]  # a band that tells orientations apart
    views = {
        (out_image.tobytes(), out_mask.tobytes())
        for seed in range(200)
        for out_image, out_mask in [random_orientation(image, mask, np.random.default_rng(seed))]
    }
    assert len(views) == 8
    for seed in range(20):
        out_image, out_mask = random_orientation(image, mask, np.random.default_rng(seed))
        assert ((out_image[0] == 220) == (out_mask == 1)).all()
        # the ignore band along one edge stays a full band along some edge
        edges = [out_mask[:, :4], out_mask[:, -4:], out_mask[:4, :], out_mask[-4:, :]]
        assert any((edge == IGNORE).all() for edge in edges)


def test_random_crop_is_aligned_and_sized():
    image, mask = square_tile()
    crop_image, crop_mask = random_crop(image, mask, 24, np.random.default_rng(3))
    assert crop_image.shape == (3, 24, 24) and crop_mask.shape == (24, 24)
    assert ((crop_image[0] == 220) == (crop_mask == 1)).all()
    assert random_crop(image, mask, 100, np.random.default_rng(0))[1] is mask


def test_sampler_order_depends_only_on_seed_and_epoch():
    first, again = EpochSampler(10, copies=5, seed=1), EpochSampler(10, copies=5, seed=1)
    first.set_epoch(3)
    again.set_epoch(3)
    assert list(first) == list(again)
    assert len(first) == 50
    assert sorted((d.index, d.copy) for d in first) == [(i, c) for i in range(10) for c in range(5)]
    again.set_epoch(4)
    assert list(first) != list(again)
    assert all(d.epoch == 4 for d in again)


def test_ranks_get_equal_disjoint_shares():
    shares = [list(EpochSampler(11, seed=0, rank=r, replicas=3)) for r in range(3)]
    assert len({len(s) for s in shares}) == 1
    seen = [d.index for s in shares for d in s]
    assert set(seen) == set(range(11)) and len(seen) == 12  # one tile repeated to even out
    val = [list(EpochSampler(11, shuffle=False, rank=r, replicas=3)) for r in range(3)]
    assert sorted(d.index for s in val for d in s) == list(range(11))
    assert val[0][0] == TileDraw(0, 0, 0)


def one_tile_as_is_and(
    tmp_path, first_copy: str
) -> tuple[TileDataset, TileDataset, list[tuple[torch.Tensor, torch.Tensor]]]:
    """A one-tile dataset read as is and with `first_copy`, and the tile's 8 (image, mask)
    orientations (rotations by k x 90 degrees, flipped or not)."""
    stems = write_tile_dataset(tmp_path, rows=1, cols=1, size=32)
    as_is = TileDataset(tmp_path, stems, augment=True)
    image, mask = as_is[0]
    orientations = [
        (torch.rot90(view, k, dims=(-2, -1)), torch.rot90(labels, k, dims=(-2, -1)))
        for k in range(4)
        for view, labels in [(image, mask), (image.flip(-1), mask.flip(-1))]
    ]
    return as_is, TileDataset(tmp_path, stems, augment=True, first_copy=first_copy), orientations


def test_the_first_copy_is_as_is_or_a_reproducible_random_orientation(tmp_path):
    as_is, oriented, orientations = one_tile_as_is_and(tmp_path, "dihedral")
    drawn = []
    for epoch in range(12):
        out_image, out_mask = oriented[TileDraw(epoch, 0, 0)]
        again_image, _ = oriented[TileDraw(epoch, 0, 0)]
        assert torch.equal(out_image, again_image)
        matches = [
            i for i, (view, labels) in enumerate(orientations)
            if torch.equal(view, out_image) and torch.equal(labels, out_mask)
        ]  # fmt: skip
        assert len(matches) == 1
        drawn.append(matches[0])
        assert torch.equal(as_is[TileDraw(epoch, 0, 0)][0], orientations[0][0])
    assert len(set(drawn)) > 2, "the orientation should change from epoch to epoch"


@pytest.mark.parametrize("seed", range(20))
def test_a_colour_jitter_keeps_the_range_and_the_bright_scars_bright(seed):
    image, _ = square_tile()
    image[1] = np.where(image[1] > 100, 200, 60)  # a second colour, for the saturation step
    jittered = random_colour(image, np.random.default_rng(seed))
    assert jittered.dtype == np.float32 and jittered.shape == image.shape
    assert jittered.min() >= 0 and jittered.max() <= 255
    bright = image[0] > 100
    # every step is monotone in the pixel value, so the scar stays brighter than the rest
    assert (jittered[:, bright].mean(axis=1) > jittered[:, ~bright].mean(axis=1)).all()


def test_the_colour_jitter_changes_colours_from_draw_to_draw_and_repeats_with_its_seed():
    image, _ = square_tile()
    draws = [random_colour(image, np.random.default_rng(seed)) for seed in range(8)]
    assert len({round(float(d.mean()), 3) for d in draws}) > 4
    assert np.array_equal(random_colour(image, np.random.default_rng(3)), draws[3])
    one_band = random_colour(image[:1], np.random.default_rng(0))  # no saturation step
    assert one_band.shape == (1, 64, 64)


def test_a_jittered_first_copy_is_an_orientation_of_the_tile_with_other_colours(tmp_path):
    as_is, jittered, orientations = one_tile_as_is_and(tmp_path, "jitter")
    changed = 0
    for epoch in range(8):
        out_image, out_mask = jittered[TileDraw(epoch, 0, 0)]
        assert any(torch.equal(out_mask, labels) for _, labels in orientations)
        assert torch.equal(out_image, jittered[TileDraw(epoch, 0, 0)][0])
        assert out_image.min() >= 0 and out_image.max() <= 1
        changed += not any(torch.allclose(out_image, view) for view, _ in orientations)
    assert changed >= 4, "most epochs should draw other colours"
