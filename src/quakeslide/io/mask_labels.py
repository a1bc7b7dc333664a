"""Landslide masks given as rasters or images (GeoTIFF, PNG, JPEG, ...) -> 0/1/255 windows.

Encodings: "01" (0 background, 1 landslide, 255 ignore), "0255" (255 landslide), "palette"
(palette indices: the red index is landslide, black/gray indices background) and "rgb"
(colour masks: `mask_color`, red by default, is landslide; black/gray is background; a
mask of black/gray plus one single colour has that colour as landslide).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

from quakeslide.classes import IGNORE
from quakeslide.errors import InputError
from quakeslide.options import named

log = logging.getLogger(__name__)

ENCODINGS = ("auto", "01", "0255", "palette", "rgb")
MASK_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg")
DEFAULT_MASK_COLOR = (255, 0, 0)
WHOLE_READ_PIXELS = 50_000_000  # below this the values are read at once, above in strips
STRIP_PIXELS = 1 << 22


Color = tuple[int, int, int]


@dataclass(frozen=True)
class MaskEncoding:
    """How a mask's values map to labels.

    `lut` maps single-band values 0..255 to 0/1/255; `color` is the landslide colour of an
    "rgb" mask (which has no lut).
    """

    name: str
    lut: np.ndarray | None = None
    color: Color | None = None


class MaskLabels:
    """A mask raster the size of the scene, read one window at a time."""

    def __init__(self, path: Path, encoding: MaskEncoding, lossy: bool = False):
        self.path = Path(path)
        self._encoding = encoding
        self._lossy = lossy  # JPEG: colours are approximate, take the nearest label

    @property
    def encoding(self) -> str:
        return self._encoding.name

    def mask(self, window: Window, scene_transform=None) -> np.ndarray:
        """uint8 mask (0 background, 1 landslide, 255 ignore) of `window`."""
        with _open(self.path) as src:
            if self._encoding.lut is not None:
                values = src.read(1, window=window)
                return self._encoding.lut[values.astype(np.intp)]
            bands = src.read(window=window)
        return _rgb_labels(bands, self._encoding.color, self._lossy)


def read_mask_labels(
    path: Path,
    scene_height: int,
    scene_width: int,
    encoding: str = "auto",
    mask_color: Color | None = None,
) -> MaskLabels:
    """Open a mask, check its size against the scene and work out (or check) its encoding."""
    path = Path(path)
    if encoding not in ENCODINGS:
        raise InputError(f"{path}: unknown mask encoding {encoding!r}: use {', '.join(ENCODINGS)}")
    if not path.exists():
        raise InputError(f"{path}: mask not found")
    mask_color = _as_color(mask_color, str(path))
    try:
        src = _open(path)
    except rasterio.errors.RasterioIOError as err:
        raise InputError(f"{path}: not a readable image or raster ({err})") from err
    with src:
        if (src.height, src.width) != (scene_height, scene_width):
            raise InputError(
                f"{path}: mask is {src.height}x{src.width} px (height x width) "
                f"but the scene is {scene_height}x{scene_width} px"
            )
        if src.count not in (1, 3, 4):
            raise InputError(
                f"{path}: mask has {src.count} bands; expected 1 (class values) "
                "or 3/4 (RGB colours)"
            )
        bands, lossy = src.count, src.driver == "JPEG"
        if bands > 1 and encoding not in ("auto", "rgb"):
            raise InputError(f"{path}: encoding {encoding!r} needs a single-band mask")
        if bands > 1 and lossy:
            color = mask_color or DEFAULT_MASK_COLOR
            return MaskLabels(path, MaskEncoding("rgb", color=color), lossy=True)
        if bands == 1:
            palette, values = _palette(src), _unique(src, 1)
        else:
            palette, values = None, _unique_colours(src)
    found = detect_encoding(values, palette, mask_color, encoding, source=str(path))
    return MaskLabels(path, found)


def detect_encoding(
    values: Iterable[int] | np.ndarray,
    palette: dict[int, Color] | None = None,
    mask_color: Color | None = None,
    encoding: str = "auto",
    source: str = "mask",
) -> MaskEncoding:
    """The encoding of a mask from its distinct values (or, for RGB, its distinct colours).

    `values` holds integers for a single-band mask, or an (n, 3) array of colours for an RGB
    mask; `palette` is a single-band mask's colour table. `encoding` other than "auto"
    is checked against the values instead of detected.
    """
    values = np.asarray(list(values) if isinstance(values, set) else values)
    mask_color = _as_color(mask_color, source)
    if values.ndim == 2:
        return _rgb_encoding(values, mask_color, source)
    if encoding == "rgb":
        raise InputError(f"{source}: encoding 'rgb' needs a 3-band colour mask")
    if values.size and not np.array_equal(values, np.round(values)):
        raise InputError(
            f"{source}: mask values are not whole numbers ({_listing(values)}); "
            "expected class values such as 0/1"
        )
    found = {int(v) for v in values}
    if encoding == "palette" or (encoding == "auto" and palette is not None):
        if palette is None:
            raise InputError(f"{source}: encoding 'palette' needs a mask with a colour table")
        palette_encoding = _palette_encoding(found, palette, mask_color, source, encoding)
        if palette_encoding is not None:
            return palette_encoding
    allowed = {"01": {0, 1, IGNORE}, "0255": {0, 255}}
    if encoding == "auto":
        if found <= {0, 1} or (found <= {0, 1, IGNORE} and 1 in found):
            encoding = "01"
        elif found <= {0, 255}:
            encoding = "0255"
        else:
            raise InputError(
                f"{source}: cannot tell the label encoding from values {_listing(found)}; "
                f"use {named('mask_encoding')}"
            )
    elif not found <= allowed[encoding]:
        raise InputError(
            f"{source}: values {_listing(found)} do not fit mask encoding {encoding!r} "
            f"(allowed {_listing(allowed[encoding])})"
        )
    lut = np.zeros(256, np.uint8)
    if encoding == "01":
        lut[1], lut[IGNORE] = 1, IGNORE
    else:
        lut[255] = 1
    return MaskEncoding(encoding, lut)


def read_mask_folder_item(masks_dir: Path, stem: str) -> Path:
    """The mask for scene `stem` in a folder: `<stem>.png`, `.tif`, `.jpg`, ..."""
    masks_dir = Path(masks_dir)
    for suffix in MASK_SUFFIXES:
        for name in (stem + suffix, stem + suffix.upper()):
            if (masks_dir / name).is_file():
                return masks_dir / name
    raise InputError(f"{masks_dir}: no mask named {stem} with suffix {', '.join(MASK_SUFFIXES)}")


def _palette_encoding(
    found: set[int], palette: dict[int, Color], mask_color: Color | None, source: str, asked: str
) -> MaskEncoding | None:
    """Palette mapping if some present index has the landslide colour, else None (auto)."""
    colours = {v: palette.get(v) for v in found}
    landslide = {v for v, c in colours.items() if c is not None and _is_landslide(c, mask_color)}
    if not landslide and asked == "auto":
        return None  # e.g. a 0/1 mask that happens to carry a gray colour table
    other = {v: c for v, c in colours.items() if v not in landslide and not _is_background(c)}
    if other:
        listing = ", ".join(f"{v}: {c}" for v, c in sorted(other.items())[:10])
        raise InputError(
            f"{source}: palette indices {{{listing}}} are neither the landslide colour "
            f"({_colour_name(mask_color)}) nor black/gray background; use {named('mask_color')}"
        )
    lut = np.zeros(256, np.uint8)
    lut[sorted(landslide)] = 1
    return MaskEncoding("palette", lut)


def _rgb_encoding(colours: np.ndarray, mask_color: Color | None, source: str) -> MaskEncoding:
    color = mask_color or _only_colour(colours, source) or DEFAULT_MASK_COLOR
    other = [
        tuple(int(v) for v in c)
        for c in colours
        if tuple(int(v) for v in c) != color and not _is_background(c)
    ]
    if other:
        raise InputError(
            f"{source}: colours {_listing(other)} are neither the landslide colour {color} "
            f"nor black/gray background; use {named('mask_color')}"
        )
    return MaskEncoding("rgb", color=color)


def _only_colour(colours: np.ndarray, source: str) -> Color | None:
    """With no --mask-color: a mask of black/gray plus exactly one colour (Bijie's yellow on
    black) has that colour as landslide; said in a note, since it is a guess."""
    coloured = {tuple(int(v) for v in c) for c in colours if not _is_background(c)}
    if len(coloured) != 1 or DEFAULT_MASK_COLOR in coloured:
        return None
    (color,) = coloured
    log.info("%s: black/gray and one colour %s: taken as landslide", source, color)
    return color


def _rgb_labels(bands: np.ndarray, color: Color, lossy: bool) -> np.ndarray:
    rgb = bands[:3].astype(np.int32)
    target = np.asarray(color, np.int32)[:, None, None]
    if lossy:
        # nearest of the landslide colour and the gray with the same brightness
        gray = rgb.mean(axis=0, keepdims=True)
        landslide = ((rgb - target) ** 2).sum(axis=0) < ((rgb - gray) ** 2).sum(axis=0)
    else:
        landslide = (rgb == target).all(axis=0)
    out = landslide.astype(np.uint8)
    if len(bands) == 4:
        out[bands[3] == 0] = IGNORE  # transparent pixels
    return out


def _as_color(mask_color, source: str) -> Color | None:
    if mask_color is None:
        return None
    color = tuple(int(v) for v in mask_color)
    if len(color) != 3 or not all(0 <= v <= 255 for v in color):
        raise InputError(f"{source}: mask colour {mask_color} is not an 8-bit (r, g, b)")
    return color


def _is_landslide(colour: Color, mask_color: Color | None) -> bool:
    r, g, b = colour[:3]
    if mask_color is not None:
        return (r, g, b) == mask_color
    return r >= 100 and g <= 60 and b <= 60  # red-ish: (255, 0, 0), (128, 0, 0), ...


def _is_background(colour) -> bool:
    return colour is not None and int(colour[0]) == int(colour[1]) == int(colour[2])


def _colour_name(mask_color: Color | None) -> str:
    return str(mask_color) if mask_color is not None else "red"


def _open(path: Path) -> rasterio.DatasetReader:
    """Open a mask; plain images have no georeference, and need none: no warning for that."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        return rasterio.open(path)


def _palette(src) -> dict[int, Color] | None:
    try:
        return {i: tuple(c[:3]) for i, c in src.colormap(1).items()}
    except ValueError:  # no colour table
        return None


def _strips(src) -> Iterable[Window]:
    """Row strips covering the raster: one if it is small, else ~4 M pixels each."""
    if src.height * src.width < WHOLE_READ_PIXELS:
        rows = src.height
    else:
        rows = max(1, STRIP_PIXELS // src.width)
    for row in range(0, src.height, rows):
        yield Window(0, row, src.width, min(rows, src.height - row))


def _unique(src, band: int) -> np.ndarray:
    found = np.empty(0, src.dtypes[band - 1])
    for window in _strips(src):
        found = np.union1d(found, np.unique(src.read(band, window=window)))
    return found


def _unique_colours(src) -> np.ndarray:
    """Distinct (r, g, b) colours of the first three bands, bounded memory."""
    if any(np.dtype(d) != np.uint8 for d in src.dtypes[:3]):
        raise InputError(f"{src.name}: colour masks must be 8-bit, found {src.dtypes[0]}")
    packed = np.empty(0, np.uint32)
    for window in _strips(src):
        r, g, b = src.read((1, 2, 3), window=window).astype(np.uint32)
        packed = np.union1d(packed, np.unique((r << 16) | (g << 8) | b))
    return np.stack([packed >> 16, (packed >> 8) & 255, packed & 255], axis=1).astype(np.int64)


def _listing(values) -> str:
    """'{0, 1, 2, 7}', or the first 10 and a count for long lists."""
    items = sorted(values) if not isinstance(values, np.ndarray) else sorted(values.tolist())
    shown = ", ".join(_number(v) for v in items[:10])
    more = f", ... ({len(items)} in all)" if len(items) > 10 else ""
    return "{" + shown + more + "}"


def _number(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)
