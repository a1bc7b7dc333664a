"""Windowed reading of input scenes as uint8 images with a valid-data mask. No torch here.

A scene is any raster GDAL reads (GeoTIFF in any CRS, plain TIFF, PNG, JPEG). It is never
read whole: windows are read on demand, and the contrast stretch of non-8-bit scenes is
computed from a decimated read whose size does not depend on the scene size.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import ColorInterp
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.io import DatasetReader
from rasterio.windows import Window

from quakeslide.errors import InputError
from quakeslide.io.raster import open_scene
from quakeslide.options import named

# Pixels per band read to compute the stretch: enough for stable percentiles, small enough
# that a 100 000 x 100 000 scene costs the same memory as a small one.
STRETCH_SAMPLE_PIXELS = 1_000_000


@dataclass(frozen=True)
class Stretch:
    """Linear contrast stretch per output band: `low` maps to 0 and `high` to 255, clipped.

    `percentiles` records how low/high were computed from the scene (2-98 % by default);
    the stretch is stored in dataset.json so that prediction can reuse the training one.
    """

    low: list[float]
    high: list[float]
    percentiles: tuple[float, float] = (2.0, 98.0)

    def __post_init__(self) -> None:
        if len(self.low) != len(self.high):
            raise ValueError(f"stretch has {len(self.low)} low values but {len(self.high)} high")

    def apply(self, data: np.ndarray) -> np.ndarray:
        """(bands, h, w) array of any dtype -> uint8; NaN becomes 0."""
        if data.ndim != 3 or data.shape[0] != len(self.low):
            raise ValueError(
                f"stretch is for {len(self.low)} bands, got an array of shape {data.shape}"
            )
        work = np.float64 if data.dtype == np.float64 else np.float32
        low = np.asarray(self.low, dtype=work)[:, None, None]
        high = np.asarray(self.high, dtype=work)[:, None, None]
        # A constant band (low == high) maps to 0 at low and 255 above it.
        span = np.where(high > low, high - low, 1)
        scaled = (data.astype(work) - low) * (255 / span)
        scaled = np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0)
        return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)

    def to_dict(self) -> dict:
        return {
            "low": list(self.low),
            "high": list(self.high),
            "percentiles": list(self.percentiles),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Stretch:
        lo, hi = d.get("percentiles", (2.0, 98.0))
        return cls(
            low=[float(v) for v in d["low"]],
            high=[float(v) for v in d["high"]],
            percentiles=(float(lo), float(hi)),
        )


class SceneReader:
    """An open scene: reads windows as (uint8 image, valid mask). Use as a context manager."""

    def __init__(
        self,
        src: DatasetReader,
        path: Path,
        bands: list[int],
        alpha: int | None,
        stretch: Stretch | None,
    ) -> None:
        self._src = src
        self._alpha = alpha
        self.path = path
        self.height: int = src.height
        self.width: int = src.width
        self.crs: CRS | None = src.crs
        self.georeferenced: bool = src.crs is not None or not src.transform.is_identity
        self.transform: Affine = src.transform if self.georeferenced else Affine.identity()
        self.bands = bands
        self.stretch = stretch

    def rows_bytes(self, rows: int) -> int:
        """Decoded bytes of `rows` full-width rows of the scene's blocks (at least a block)."""
        block_rows = max(rows, self._src.block_shapes[0][0])
        itemsize = np.dtype(self._src.dtypes[0]).itemsize
        return self.width * block_rows * self._src.count * itemsize

    def read(
        self, window: Window, pad_to: tuple[int, int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """-> (uint8 image (len(bands), h, w), valid bool (h, w)).

        The output is window-sized, or (H, W) with `pad_to`; the window sits at its top-left
        corner. Whatever lies outside the scene (a window running past an edge, or padding)
        is image 0 and valid False.
        """
        row0, col0 = round(window.row_off), round(window.col_off)
        h, w = round(window.height), round(window.width)
        out_h, out_w = pad_to if pad_to is not None else (h, w)
        if out_h < h or out_w < w:
            raise ValueError(f"pad_to {pad_to} is smaller than the window {h} x {w}")
        image = np.zeros((len(self.bands), out_h, out_w), dtype=np.uint8)
        valid = np.zeros((out_h, out_w), dtype=bool)

        # The part of the window inside the scene, and where it goes in the output.
        top, left = max(row0, 0), max(col0, 0)
        bottom, right = min(row0 + h, self.height), min(col0 + w, self.width)
        if bottom <= top or right <= left:
            return image, valid
        inner = Window(left, top, right - left, bottom - top)
        data, inner_valid = self._read_inside(inner)
        rows = slice(top - row0, bottom - row0)
        cols = slice(left - col0, right - col0)
        image[:, rows, cols] = data
        valid[rows, cols] = inner_valid
        return image, valid

    def sample(self, pixels: int = STRETCH_SAMPLE_PIXELS) -> tuple[np.ndarray, np.ndarray]:
        """The whole scene decimated to about `pixels` pixels: (uint8 image, valid)."""
        try:
            return self._decode(out_shape=_decimated_shape(self.height, self.width, pixels))
        except RasterioError as err:
            raise InputError(f"{self.path}: cannot read the scene: {_gdal_message(err)}") from err

    def _read_inside(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        try:
            return self._decode(window=window)
        except RasterioError as err:
            raise InputError(
                f"{self.path}: cannot read window (col {window.col_off}, row {window.row_off}, "
                f"{window.width} x {window.height}): {_gdal_message(err)}"
            ) from err

    def _decode(
        self, window: Window | None = None, out_shape: tuple[int, int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """A window, or the whole scene resampled to `out_shape`: (uint8 image, valid)."""
        band_at: dict = {"window": window}
        stack_at: dict = {"window": window}
        if out_shape is not None:
            band_at, stack_at = (
                {"out_shape": out_shape},
                {"out_shape": (len(self.bands), *out_shape)},
            )
        data = self._src.read(self.bands, **stack_at)
        masks = self._src.read_masks(self.bands, **stack_at)
        alpha = self._src.read(self._alpha, **band_at) if self._alpha else None
        valid = _valid_mask(data, masks, alpha)
        image = data if self.stretch is None else self.stretch.apply(data)
        image[:, ~valid] = 0
        return image, valid

    def close(self) -> None:
        self._src.close()

    def __enter__(self) -> SceneReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_scene_reader(
    path: Path,
    bands: list[int] | None = None,
    stretch: Stretch | None = None,
    percentiles: tuple[float, float] = (2.0, 98.0),
) -> SceneReader:
    """Open a scene for windowed reading.

    `bands` are 1-based source bands in output order; by default RGB (or RGBA, the alpha
    band then being the valid mask) gives [1, 2, 3] and a single band gives [1]. uint8
    sources are passed through unchanged; other dtypes are stretched with `stretch`
    (e.g. the training one from dataset.json) or, without it, with per-band `percentiles`
    of the valid pixels of a decimated read of the whole scene.
    """
    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        src = open_scene(path)
    try:
        alpha = next(
            (i for i, ci in enumerate(src.colorinterp, 1) if ci == ColorInterp.alpha), None
        )
        selected = _select_bands(src, path, bands, alpha)
        if all(src.dtypes[b - 1] == "uint8" for b in selected):
            used = None
        elif stretch is not None:
            if len(stretch.low) != len(selected):
                raise InputError(
                    f"{path}: the stretch is for {len(stretch.low)} bands "
                    f"but {len(selected)} bands are read ({selected})"
                )
            used = stretch
        else:
            used = _compute_stretch(src, path, selected, alpha, percentiles)
    except BaseException:
        src.close()
        raise
    return SceneReader(src, path, selected, alpha, used)


def _select_bands(
    src: DatasetReader, path: Path, bands: list[int] | None, alpha: int | None
) -> list[int]:
    if bands is not None:
        if not bands:
            raise InputError(f"{path}: {named('bands')} is empty")
        bad = [b for b in bands if not 1 <= b <= src.count]
        if bad:
            raise InputError(
                f"{path}: band(s) {bad} out of range; the raster has bands 1..{src.count}"
            )
        return list(bands)
    colour = [b for b in range(1, src.count + 1) if b != alpha]
    if len(colour) in (1, 3):
        return colour
    raise InputError(
        f"{path}: {len(colour)} bands (not RGB or grayscale); choose the red, green and blue"
        f" bands, e.g. {named('bands')} 3,2,1"
    )


def _compute_stretch(
    src: DatasetReader,
    path: Path,
    bands: list[int],
    alpha: int | None,
    percentiles: tuple[float, float],
) -> Stretch:
    lo_pct, hi_pct = percentiles
    if not 0 <= lo_pct < hi_pct <= 100:
        raise InputError(f"percentiles must satisfy 0 <= low < high <= 100, got {percentiles}")
    shape = _decimated_shape(src.height, src.width, STRETCH_SAMPLE_PIXELS)
    low: list[float] = []
    high: list[float] = []
    try:
        alpha_sample = src.read(alpha, out_shape=shape) if alpha else None
        for b in bands:
            sample = src.read(b, out_shape=shape)
            valid = _valid_mask(
                sample[None], src.read_masks(b, out_shape=shape)[None], alpha_sample
            )
            values = sample[valid]
            values = values[np.isfinite(values)]
            if values.size == 0:
                raise InputError(f"{path}: band {b} has no valid pixels to compute a stretch")
            lo, hi = np.percentile(values, [lo_pct, hi_pct])
            low.append(float(lo))
            high.append(float(hi))
    except RasterioError as err:
        raise InputError(f"{path}: cannot read the scene: {_gdal_message(err)}") from err
    return Stretch(low=low, high=high, percentiles=(float(lo_pct), float(hi_pct)))


def _decimated_shape(height: int, width: int, pixels: int) -> tuple[int, int]:
    """(rows, cols) of a read of the whole raster holding about `pixels` pixels, never more
    than the raster's own."""
    factor = max(1.0, math.sqrt(height * width / pixels))
    return max(1, round(height / factor)), max(1, round(width / factor))


def _valid_mask(data: np.ndarray, masks: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Valid where any selected band is unmasked (GDAL masks cover nodata, alpha and
    internal masks), alpha is non-zero, and float values are finite."""
    valid = (masks > 0).any(axis=0)
    if alpha is not None:
        valid &= alpha > 0
    if np.issubdtype(data.dtype, np.floating):
        valid &= np.isfinite(data).any(axis=0)
    return valid


def _gdal_message(err: BaseException) -> str:
    """rasterio says "Read failed. See previous exception"; GDAL's own reason is its cause."""
    while err.__cause__ is not None:
        err = err.__cause__
    return str(err)
