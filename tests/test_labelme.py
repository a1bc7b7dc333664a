import base64
import json
import math

import numpy as np
import pytest
import shapely
from PIL import Image, ImageDraw
from rasterio.transform import from_origin
from rasterio.windows import Window

from quakeslide.errors import InputError
from quakeslide.io.labelme import (
    check_labelme_image,
    find_labelme,
    labelme_image_data,
    read_labelme,
)
from quakeslide.io.labelme import write_labelme as write_polygons

H, W = 40, 50


def shape(points, kind="polygon", label="landslide"):
    return {"label": label, "points": points, "shape_type": kind, "group_id": None, "flags": {}}


def write_labelme(path, shapes, image_path="scene.png", height=H, width=W, image_data=None):
    doc = {
        "version": "5.2.1",
        "flags": {},
        "shapes": shapes,
        "imagePath": image_path,
        "imageData": image_data,
        "imageHeight": height,
        "imageWidth": width,
    }
    path.write_text(json.dumps(doc))
    return path


def labelme_export(shapes, height=H, width=W):
    """What labelme.utils.shape_to_mask gives, shape by shape on the whole image, OR-ed."""
    out = np.zeros((height, width), bool)
    for s in shapes:
        canvas = Image.fromarray(np.zeros((height, width), np.uint8))
        draw = ImageDraw.Draw(canvas)
        xy = [tuple(p) for p in s["points"]]
        if s["shape_type"] == "circle":
            (cx, cy), (px, py) = xy
            r = math.sqrt((cx - px) ** 2 + (cy - py) ** 2)
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=1, fill=1)
        elif s["shape_type"] == "rectangle":
            draw.rectangle(xy, outline=1, fill=1)
        else:
            draw.polygon(xy=xy, outline=1, fill=1)
        out |= np.array(canvas, dtype=bool)
    return out.astype(np.uint8)


def whole(labels, height=H, width=W):
    return labels.mask(Window(0, 0, width, height), None)


def test_rectangle_covers_its_corners_inclusive(tmp_path):
    path = write_labelme(tmp_path / "a.json", [shape([[2, 3], [5, 7]], "rectangle")])
    expected = np.zeros((H, W), np.uint8)
    expected[3:8, 2:6] = 1
    np.testing.assert_array_equal(whole(read_labelme(path, H, W)), expected)


def test_reversed_rectangle_corners(tmp_path):
    path = write_labelme(tmp_path / "a.json", [shape([[5.5, 7.2], [2.4, 3.9]], "rectangle")])
    expected = np.zeros((H, W), np.uint8)
    expected[3:8, 2:6] = 1
    np.testing.assert_array_equal(whole(read_labelme(path, H, W)), expected)


def test_polygon_square_and_triangle(tmp_path):
    square = shape([[10, 10], [14, 10], [14, 13], [10, 13]])
    path = write_labelme(tmp_path / "a.json", [square])
    expected = np.zeros((H, W), np.uint8)
    expected[10:14, 10:15] = 1
    np.testing.assert_array_equal(whole(read_labelme(path, H, W)), expected)


def test_a_polygon_edited_across_itself_is_filled_as_labelme_exports_it_and_named(tmp_path, caplog):
    bowtie = shape([[5, 5], [25, 25], [25, 5], [5, 25]])  # a vertex dragged across an edge
    path = write_labelme(tmp_path / "edited.json", [bowtie])
    with caplog.at_level("WARNING"):
        mask = whole(read_labelme(path, H, W))
    assert "edited.json: polygon 0 crosses itself" in caplog.text
    np.testing.assert_array_equal(mask, labelme_export([bowtie]))
    assert mask[15, 8] == 1 and mask[15, 22] == 1 and mask[8, 15] == 0


def test_circle_is_a_disc(tmp_path):
    path = write_labelme(tmp_path / "a.json", [shape([[20, 20], [23, 20]], "circle")])
    mask = whole(read_labelme(path, H, W))
    rows, cols = np.nonzero(mask)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (17, 23, 17, 23)
    assert mask[20, 17:24].all() and mask[17:24, 20].all()
    assert mask[17, 17] == mask[23, 23] == 0  # corners of the bounding box stay out
    np.testing.assert_array_equal(mask, labelme_export([shape([[20, 20], [23, 20]], "circle")]))


def random_shapes(rng, n=12):
    shapes = []
    for _ in range(n):
        kind = rng.choice(["polygon", "rectangle", "circle"])
        if kind == "polygon":
            k = int(rng.integers(3, 9))
            points = np.column_stack([rng.uniform(-8, W + 8, k), rng.uniform(-8, H + 8, k)])
        elif kind == "rectangle":
            a = rng.uniform([-4, -4], [W, H])
            points = np.stack([a, a + rng.uniform(0, 20, 2)])
        else:
            c = rng.uniform([0, 0], [W, H])
            points = np.stack([c, c + rng.uniform(-10, 10, 2)])
        shapes.append(shape(np.round(points, 3).tolist(), str(kind)))
    return shapes


def test_matches_labelme_export_and_windows_are_slices(tmp_path):
    rng = np.random.default_rng(7)
    for trial in range(20):
        shapes = random_shapes(rng)
        path = write_labelme(tmp_path / f"{trial}.json", shapes)
        labels = read_labelme(path, H, W)
        expected = labelme_export(shapes)
        np.testing.assert_array_equal(whole(labels), expected)
        for _ in range(15):
            r, c = int(rng.integers(0, H)), int(rng.integers(0, W))
            h, w = int(rng.integers(1, H - r + 1)), int(rng.integers(1, W - c + 1))
            got = labels.mask(Window(c, r, w, h), None)
            assert got.shape == (h, w) and got.dtype == np.uint8
            np.testing.assert_array_equal(got, expected[r : r + h, c : c + w])


def test_window_without_shapes_is_empty(tmp_path):
    path = write_labelme(tmp_path / "a.json", [shape([[2, 3], [5, 7]], "rectangle")])
    mask = read_labelme(path, H, W).mask(Window(20, 20, 10, 8), None)
    assert mask.shape == (8, 10) and not mask.any()


def test_label_names_filter_and_skipped_shapes(tmp_path):
    shapes = [
        shape([[2, 3], [5, 7]], "rectangle", label="landslide"),
        shape([[20, 20], [25, 25]], "rectangle", label="road"),
        shape([[0, 0], [30, 30]], "line"),
        shape([[1, 1]], "point"),
        shape([[0, 0], [5, 5], [9, 0]], "linestrip"),
    ]
    path = write_labelme(tmp_path / "a.json", shapes)
    everything = read_labelme(path, H, W)
    assert everything.skipped == 3 and len(everything) == 2
    assert whole(everything)[22, 22] == 1
    only = read_labelme(path, H, W, label_names={"landslide"})
    expected = np.zeros((H, W), np.uint8)
    expected[3:8, 2:6] = 1
    np.testing.assert_array_equal(whole(only), expected)


def test_size_mismatch_names_both_sizes(tmp_path):
    path = write_labelme(tmp_path / "a.json", [], height=30, width=20)
    with pytest.raises(InputError, match=r"a\.json.*30x20.*40x50"):
        read_labelme(path, H, W)


def test_unreadable_json_and_bad_shapes(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="bad.json: not valid JSON"):
        read_labelme(bad, H, W)
    with pytest.raises(InputError, match="fewer than 3 points"):
        read_labelme(write_labelme(tmp_path / "p.json", [shape([[1, 1], [2, 2]])]), H, W)


def test_missing_image_and_embedded_image(tmp_path):
    missing = write_labelme(tmp_path / "a.json", [], image_path="nowhere.png")
    with pytest.raises(InputError, match="image 'nowhere.png' does not exist"):
        check_labelme_image(missing)
    assert labelme_image_data(missing) is None

    Image.new("RGB", (W, H)).save(tmp_path / "scene.png")
    present = write_labelme(tmp_path / "b.json", [], image_path="scene.png")
    assert check_labelme_image(present) == tmp_path / "scene.png"

    png = (tmp_path / "scene.png").read_bytes()
    embedded = write_labelme(
        tmp_path / "c.json", [], image_path="gone.png", image_data=base64.b64encode(png).decode()
    )
    assert check_labelme_image(embedded) is None
    assert labelme_image_data(embedded) == png


def test_find_labelme_by_image_path_then_stem(tmp_path):
    folder = tmp_path / "labels"
    folder.mkdir()
    by_path = write_labelme(folder / "annotations_1.json", [], image_path="..\\img\\scene.tif")
    write_labelme(folder / "other.json", [], image_path="other.tif")
    by_stem = write_labelme(folder / "site.json", [], image_path="site_copy.jpg")
    (folder / "notes.json").write_text(json.dumps({"comment": "not labelme"}))
    assert find_labelme(folder, tmp_path / "img" / "scene.tif") == by_path
    assert find_labelme(folder, tmp_path / "site.tif") == by_stem
    assert find_labelme(by_path, tmp_path / "scene.tif") == by_path
    with pytest.raises(InputError, match="no Labelme JSON refers to missing.tif"):
        find_labelme(folder, tmp_path / "missing.tif")


def test_written_polygons_read_back_in_pixels(tmp_path):
    """write_labelme: CRS polygons -> pixel points the reader rasterises where they lie."""
    transform = from_origin(1000.0, 2000.0, 0.5, 0.5)
    square = shapely.box(1001.0, 1995.0, 1003.0, 1998.0)  # cols 2-6, rows 4-10
    path = tmp_path / "scene.json"
    write_polygons(path, "scene.tif", [square], transform, height=16, width=12)
    doc = json.loads(path.read_text())
    assert (doc["imagePath"], doc["imageHeight"], doc["imageWidth"]) == ("scene.tif", 16, 12)
    points = {tuple(p) for p in doc["shapes"][0]["points"]}
    assert points == {(2.0, 4.0), (6.0, 4.0), (6.0, 10.0), (2.0, 10.0)}
    mask = read_labelme(path, 16, 12).mask(Window(0, 0, 12, 16))
    rows, cols = np.nonzero(mask)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (4, 10, 2, 6)
