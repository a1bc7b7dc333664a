"""Small rasters written by the tests."""

from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

ORIGIN = (330000.0, 3440000.0)  # UTM 48N, like the synthetic scenes


def write_geotiff(path: Path, data: np.ndarray, nodata=None, crs="EPSG:32648") -> Path:
    """(bands, H, W) array -> GeoTIFF with 0.61 m pixels at ORIGIN."""
    profile = dict(
        driver="GTiff",
        height=data.shape[1],
        width=data.shape[2],
        count=data.shape[0],
        dtype=str(data.dtype),
        nodata=nodata,
        crs=crs,
        transform=from_origin(*ORIGIN, 0.61, 0.61),
    )
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def random_rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Random uint8 RGB without zeros, so 0 can serve as nodata."""
    return np.random.default_rng(seed).integers(1, 256, (3, height, width), dtype=np.uint8)
