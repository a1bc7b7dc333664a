"""Windowed prediction over a sparse mosaic of real tiles scores like tile-by-tile prediction.

The Jiuzhaigou validation tiles are stitched by the pixel offsets in their names into one
GeoTIFF whose gaps are masked out (GDAL internal mask); a LinkNet trained for two short
epochs on the training tiles maps the mosaic with blended sliding windows, and the F1 over
the tiles' pixels must match predicting each tile on its own within 0.01.
"""

from pathlib import Path

import numpy as np
import pytest
import rasterio
from conftest import JIUZHAIGOU, requires_jiuzhaigou
from PIL import Image
from rasterio.transform import from_origin
from rasterio.windows import Window

from quakeslide.config import TrainConfig
from quakeslide.data.dataset import find_image, list_stems, read_image
from quakeslide.data.positions import tile_positions
from quakeslide.device import plan_compute
from quakeslide.evaluation.pixel import Confusion
from quakeslide.inference.engines import torch_engine
from quakeslide.inference.predict import predict_scene
from quakeslide.models.checkpoint import load_net
from quakeslide.training.fit import train

pytestmark = [requires_jiuzhaigou, pytest.mark.slow]


def write_mosaic(path: Path, stems: list[str]) -> dict[str, tuple[int, int]]:
    """Tiles placed at their offsets (relative to the tiles' bounding box); gaps masked."""
    positions = tile_positions(JIUZHAIGOU, stems)
    top = min(p.row for p in positions.values())
    left = min(p.col for p in positions.values())
    height = max(p.row + p.height for p in positions.values()) - top
    width = max(p.col + p.width for p in positions.values()) - left
    profile = dict(driver="GTiff", height=height, width=width, count=3, dtype="uint8",
                   crs="EPSG:32648", transform=from_origin(400000, 3700000, 0.5, 0.5),
                   tiled=True, compress="deflate")  # fmt: skip
    offsets = {}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write_mask(np.zeros((height, width), np.uint8))
        for stem, p in positions.items():
            window = Window(p.col - left, p.row - top, p.width, p.height)
            dst.write(read_image(find_image(JIUZHAIGOU, stem)), window=window)
            dst.write_mask(np.full((p.height, p.width), 255, np.uint8), window=window)
            offsets[stem] = (p.row - top, p.col - left)
    return offsets


def test_windowed_mosaic_prediction_scores_like_tile_by_tile(tmp_path):
    config = TrainConfig(epochs=2, augment=1, crop=128, max_tiles=300, train_split="train",
                         val_split="val", precision="32-true", accelerator="cpu")  # fmt: skip
    run = train(JIUZHAIGOU, tmp_path / "run", config)
    engine = torch_engine(load_net(run.best_checkpoint)[0], plan_compute("cpu", "32-true"))
    val = list_stems(JIUZHAIGOU, "val")
    offsets = write_mosaic(tmp_path / "mosaic.tif", val)
    outputs = predict_scene(engine, tmp_path / "mosaic.tif", tmp_path / "out", batch_size=8)
    alone, windowed = Confusion(0, 0, 0, 0), Confusion(0, 0, 0, 0)
    with rasterio.open(outputs.mask) as mosaic_mask:
        for stem in val:
            truth = np.array(Image.open(JIUZHAIGOU / "masks" / f"{stem}.png")) == 255
            image = read_image(find_image(JIUZHAIGOU, stem))
            by_itself = engine.predict(image[None])[0] >= 0.5
            row, col = offsets[stem]
            h, w = truth.shape
            in_mosaic = mosaic_mask.read(1, window=Window(col, row, w, h)) == 1
            alone = alone + Confusion.from_arrays(by_itself, truth.astype(np.uint8))
            windowed = windowed + Confusion.from_arrays(in_mosaic, truth.astype(np.uint8))
        mapped = mosaic_mask.read(1)
    with rasterio.open(tmp_path / "mosaic.tif") as mosaic:
        gaps = mosaic.read_masks(1) == 0
    print(f"F1 windowed mosaic {windowed.f1:.4f}, tile by tile {alone.f1:.4f}")
    assert alone.f1 > 0.7, "a weak model moves many pixels across 0.5 for a little context"
    assert abs(windowed.f1 - alone.f1) <= 0.01, (windowed.f1, alone.f1)
    assert gaps.mean() > 0.3 and (mapped[gaps] == 255).all(), "gaps must stay nodata"
