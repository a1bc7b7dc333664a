"""Labelme JSON annotations <-> landslide masks, rasterised the way Labelme's export does.

Labelme (`labelme.utils.shape_to_mask`) draws each shape with PIL on a full-image canvas.
Here each window is drawn on its own canvas with the same PIL calls, so tiling a large
scene never allocates the whole scene and the windowed masks equal slices of Labelme's.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from PIL import Image, ImageDraw
from rasterio.transform import Affine
from rasterio.windows import Window
from shapely import Polygon

from quakeslide.errors import InputError

log = logging.getLogger(__name__)

DRAWN_SHAPES = ("polygon", "rectangle", "circle")


@dataclass(frozen=True)
class _Shape:
    kind: str
    # Integer pixel coordinates: PIL truncates float coordinates towards zero; doing that
    # here, in scene coordinates, keeps the result independent of the window offset.
    xy: tuple[tuple[int, int], ...]
    bbox: tuple[int, int, int, int]  # x0, y0, x1, y1 inclusive: the pixels PIL may touch


class LabelmeLabels:
    """Landslide shapes of one Labelme file, in pixel coordinates of the scene."""

    def __init__(self, shapes: list[_Shape], skipped: int = 0):
        self.shapes = shapes
        self.skipped = skipped  # line / point / linestrip / ... shapes, which have no area

    def __len__(self) -> int:
        return len(self.shapes)

    def mask(self, window: Window, scene_transform=None) -> np.ndarray:
        """uint8 mask (1 = landslide) of `window`; `scene_transform` is not needed."""
        row_off, col_off = round(window.row_off), round(window.col_off)
        height, width = int(window.height), int(window.width)
        hits = [
            s
            for s in self.shapes
            if s.bbox[0] < col_off + width
            and s.bbox[2] >= col_off
            and s.bbox[1] < row_off + height
            and s.bbox[3] >= row_off
        ]
        if not hits:
            return np.zeros((height, width), np.uint8)
        # PIL's polygon fill depends on where column 0 is (its scan line starts there, in
        # float32), so the canvas keeps the scene's column 0: a strip of the window's rows.
        canvas = Image.new("L", (col_off + width, height), 0)
        draw = ImageDraw.Draw(canvas)
        for shape in hits:
            xy = [(x, y - row_off) for x, y in shape.xy]
            if shape.kind == "polygon":
                draw.polygon(xy, outline=1, fill=1)
            elif shape.kind == "rectangle":
                draw.rectangle(xy, outline=1, fill=1)
            else:
                draw.ellipse(xy, outline=1, fill=1)
        return np.asarray(canvas)[:, col_off:].copy()


def find_labelme(labels: Path, image: Path) -> Path:
    """The Labelme JSON for `image`: `labels` is that JSON file or a folder of them.

    A JSON matches if its imagePath names the image's file, else if the JSON's stem is the
    image's stem, else if its imagePath has the image's stem (e.g. annotated on a JPEG copy).
    """
    labels, image = Path(labels), Path(image)
    if not labels.exists():
        raise InputError(f"{labels}: labels not found")
    candidates = sorted(labels.glob("*.json")) if labels.is_dir() else [labels]
    tiers: list[list[Path]] = [[], [], []]
    for path in candidates:
        doc = _load_json(path)
        if not _is_labelme(doc):
            continue
        referenced = _basename(doc.get("imagePath") or "")
        if referenced == image.name:
            tiers[0].append(path)
        elif path.stem == image.stem:
            tiers[1].append(path)
        elif Path(referenced).stem == image.stem:
            tiers[2].append(path)
    for matches in tiers:
        if len(matches) == 1:
            return matches[0]
        if matches:
            names = ", ".join(p.name for p in matches)
            raise InputError(f"{labels}: several Labelme files match {image.name}: {names}")
    raise InputError(f"{labels}: no Labelme JSON refers to {image.name} or is named {image.stem}")


def read_labelme(
    json_path: Path,
    image_height: int,
    image_width: int,
    label_names: set[str] | None = None,
) -> LabelmeLabels:
    """Landslide shapes of a Labelme file matched to a scene of the given size.

    Only shapes whose label is in `label_names` count (None: all). Shapes without area
    (line, point, linestrip, ...) are skipped and counted in `skipped`.
    """
    json_path = Path(json_path)
    doc = _load_json(json_path)
    if not _is_labelme(doc):
        raise InputError(f"{json_path}: not a Labelme file (no 'shapes' list)")
    size = (doc.get("imageHeight"), doc.get("imageWidth"))
    if None not in size and tuple(size) != (image_height, image_width):
        raise InputError(
            f"{json_path}: annotated image is {size[0]}x{size[1]} px (height x width) "
            f"but the scene is {image_height}x{image_width} px"
        )
    shapes: list[_Shape] = []
    skipped = 0
    for i, raw in enumerate(doc["shapes"]):
        if not isinstance(raw, dict):
            raise InputError(f"{json_path}: shape {i} is not an object")
        kind = raw.get("shape_type") or "polygon"  # Labelme's default
        if kind not in DRAWN_SHAPES:
            skipped += 1
            continue
        if label_names is not None and raw.get("label") not in label_names:
            continue
        shapes.append(_parse_shape(json_path, i, kind, raw.get("points")))
    if skipped:
        log.info("%s: %d shape(s) without area (line/point/...) ignored", json_path, skipped)
    return LabelmeLabels(shapes, skipped)


def check_labelme_image(json_path: Path) -> Path | None:
    """The image a Labelme file refers to (None if only embedded as imageData).

    For callers given the JSON alone; raises InputError if neither exists.
    """
    json_path = Path(json_path)
    doc = _load_json(json_path)
    image_path = doc.get("imagePath") if isinstance(doc, dict) else None
    if image_path:
        image = json_path.parent / str(image_path).replace("\\", "/")
        if image.is_file():
            return image
    if isinstance(doc, dict) and doc.get("imageData"):
        return None
    raise InputError(
        f"{json_path}: image {image_path!r} does not exist and the file has no imageData"
    )


def labelme_image_data(json_path: Path) -> bytes | None:
    """The image embedded in a Labelme file (decoded imageData), or None."""
    json_path = Path(json_path)
    doc = _load_json(json_path)
    data = doc.get("imageData") if isinstance(doc, dict) else None
    if not data:
        return None
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, TypeError) as err:
        raise InputError(f"{json_path}: imageData is not valid base64 ({err})") from err


def write_labelme(
    path: Path,
    image_name: str,
    polygons: list[Polygon],
    transform: Affine,
    height: int,
    width: int,
    label: str = "landslide",
) -> None:
    """A Labelme file of `polygons` (CRS coordinates of a north-up image) for `image_name`."""
    shapes = []
    for p in polygons:
        xy = np.asarray(p.exterior.coords)[:-1]
        cols = (xy[:, 0] - transform.c) / transform.a
        rows = (transform.f - xy[:, 1]) / -transform.e
        points = np.stack([cols, rows], axis=1)
        shapes.append(
            {
                "label": label,
                "points": np.round(points, 3).tolist(),
                "group_id": None,
                "shape_type": "polygon",
                "flags": {},
            }
        )
    doc = {
        "version": "5.2.1",
        "flags": {},
        "shapes": shapes,
        "imagePath": image_name,
        "imageData": None,
        "imageHeight": height,
        "imageWidth": width,
    }
    Path(path).write_text(json.dumps(doc))


def _parse_shape(json_path: Path, index: int, kind: str, points) -> _Shape:
    try:
        xy = [(float(x), float(y)) for x, y in points]
    except (TypeError, ValueError) as err:
        raise InputError(f"{json_path}: shape {index} has malformed points") from err
    if kind == "polygon":
        if len(xy) < 3:
            raise InputError(f"{json_path}: polygon {index} has fewer than 3 points")
        if not shapely.Polygon(xy).is_valid:  # an edit dragged a vertex across an edge
            log.warning(
                "%s: polygon %d crosses itself; every part it encloses is filled, as"
                " Labelme's own export fills it",
                json_path,
                index,
            )
        ixy = tuple((int(x), int(y)) for x, y in xy)
        xs, ys = [p[0] for p in ixy], [p[1] for p in ixy]
        return _Shape(kind, ixy, (min(xs), min(ys), max(xs), max(ys)))
    if len(xy) != 2:
        raise InputError(f"{json_path}: {kind} {index} needs 2 points, has {len(xy)}")
    (ax, ay), (bx, by) = xy
    if kind == "rectangle":
        box = (min(ax, bx), min(ay, by), max(ax, bx), max(ay, by))
    else:  # circle: centre and a point on the circumference
        r = math.hypot(ax - bx, ay - by)
        box = (ax - r, ay - r, ax + r, ay + r)
    x0, y0, x1, y1 = (int(v) for v in box)
    return _Shape(kind, ((x0, y0), (x1, y1)), (x0, y0, x1, y1))


def _load_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror or err})") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not valid JSON ({err})") from err


def _is_labelme(doc) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("shapes"), list)


def _basename(image_path: str) -> str:
    """File name of a Labelme imagePath, which may use Windows separators."""
    return str(image_path).replace("\\", "/").rsplit("/", 1)[-1]
