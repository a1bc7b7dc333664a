"""Folders of images/ + masks/ with matching stems are read directly (e.g. Jiuzhaigou)."""

import numpy as np
import pytest
from conftest import JIUZHAIGOU, requires_jiuzhaigou
from PIL import Image

from quakeslide.data.dataset import TileDataset, list_stems
from quakeslide.errors import InputError


def make_folder(root, values):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(
            root / "images" / f"t{i}.jpg"
        )
        mask = rng.choice(values, size=(32, 32)).astype(np.uint8)
        Image.fromarray(mask).save(root / "masks" / f"t{i}.png")
    return root


@pytest.mark.parametrize("values,landslide", [([0, 255], 255), ([0, 1], 1), ([0, 1, 255], 1)])
def test_mask_encodings_become_0_1_255(tmp_path, values, landslide):
    root = make_folder(tmp_path / "ds", values)
    data = TileDataset(root, list_stems(root))
    raw = np.asarray(Image.open(root / "masks" / "t0.png"))
    image, mask = data[0]
    assert image.shape == (3, 32, 32) and image.min() >= 0.0 and image.max() <= 1.0
    np.testing.assert_array_equal(mask.numpy() == 1, raw == landslide)
    if 255 in values and landslide == 1:
        np.testing.assert_array_equal(mask.numpy() == 255, raw == 255)


def test_ambiguous_masks_are_an_error_listing_values(tmp_path):
    root = make_folder(tmp_path / "ds", [0, 3, 7])
    with pytest.raises(InputError, match="7"):
        TileDataset(root, list_stems(root))


@requires_jiuzhaigou
def test_jiuzhaigou_folder_reads_with_0_255_masks():
    stems = list_stems(JIUZHAIGOU, "val")[:20]
    data = TileDataset(JIUZHAIGOU, stems)
    fractions = []
    for i in range(len(data)):
        image, mask = data[i]
        assert image.shape == (3, 256, 256)
        assert set(np.unique(mask.numpy())) <= {0, 1}
        fractions.append(float((mask == 1).float().mean()))
    assert 0.05 < np.mean(fractions) < 0.8  # README: about 32 % landslide pixels


@requires_jiuzhaigou
def test_tile_a_jiuzhaigou_jpeg_with_its_0_255_mask(tmp_path):
    from quakeslide.data.tiling import tile_scenes
    from quakeslide.options import TileOptions

    stem = list_stems(JIUZHAIGOU, "train")[0]
    result = tile_scenes(
        [JIUZHAIGOU / "images" / f"{stem}.jpg"],
        JIUZHAIGOU / "masks",
        tmp_path / "ds",
        TileOptions(size=128),
        progress=False,
    )
    assert result.tiles == 4
    raw = np.asarray(Image.open(JIUZHAIGOU / "masks" / f"{stem}.png"))
    tiled = np.asarray(Image.open(tmp_path / "ds" / "masks" / f"{stem}_0_0.png"))
    np.testing.assert_array_equal(tiled, (raw[:128, :128] == 255).astype(np.uint8))
