import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.windows import Window

from quakeslide.errors import InputError
from quakeslide.io import mask_labels
from quakeslide.io.mask_labels import detect_encoding, read_mask_folder_item, read_mask_labels

H, W = 30, 40
GRAY = (128, 128, 128)
RED = (255, 0, 0)


def truth(seed=0):
    """0/1 labels with a few blobs."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((H, W), np.uint8)
    for _ in range(4):
        r, c = rng.integers(0, H - 8), rng.integers(0, W - 8)
        labels[r : r + int(rng.integers(2, 8)), c : c + int(rng.integers(2, 8))] = 1
    return labels


def whole(labels):
    return labels.mask(Window(0, 0, W, H), None)


def write_tif(path, values):
    values = np.asarray(values)
    profile = {"driver": "GTiff", "height": H, "width": W, "count": 1, "dtype": values.dtype}
    transform = rasterio.transform.from_origin(0, H, 1, 1)
    with rasterio.open(path, "w", transform=transform, **profile) as dst:
        dst.write(values, 1)
    return path


def rgb_image(labels, landslide=RED, background=GRAY):
    rgb = np.empty((H, W, 3), np.uint8)
    rgb[labels == 0] = background
    rgb[labels == 1] = landslide
    return rgb


def test_01_mask(tmp_path):
    labels = truth()
    path = tmp_path / "m.png"
    Image.fromarray(labels).save(path)
    source = read_mask_labels(path, H, W)
    assert source.encoding == "01"
    np.testing.assert_array_equal(whole(source), labels)


def test_0255_mask_as_geotiff(tmp_path):
    labels = truth()
    source = read_mask_labels(write_tif(tmp_path / "m.tif", labels * 255), H, W)
    assert source.encoding == "0255"
    np.testing.assert_array_equal(whole(source), labels)


def test_01_mask_with_ignore(tmp_path):
    values = truth()
    values[:3] = 255
    source = read_mask_labels(write_tif(tmp_path / "m.tif", values), H, W)
    assert source.encoding == "01"
    got = whole(source)
    assert (got[:3] == 255).all()
    np.testing.assert_array_equal(got[3:], values[3:])


def test_palette_png_uses_the_red_index(tmp_path):
    labels = truth()
    image = Image.fromarray(np.where(labels == 1, 2, 5).astype(np.uint8), mode="P")
    palette = [0] * 768
    palette[2 * 3 : 2 * 3 + 3] = [128, 0, 0]  # landslide: VOC-style dark red
    palette[5 * 3 : 5 * 3 + 3] = [90, 90, 90]  # background: gray
    image.putpalette(palette)
    path = tmp_path / "m.png"
    image.save(path)
    source = read_mask_labels(path, H, W)
    assert source.encoding == "palette"
    np.testing.assert_array_equal(whole(source), labels)


def test_palette_with_unknown_colour_is_an_error(tmp_path):
    image = Image.fromarray(np.arange(H * W).reshape(H, W).astype(np.uint8) % 3, mode="P")
    image.putpalette([0, 0, 0, 255, 0, 0, 0, 200, 0] + [0] * 759)
    path = tmp_path / "m.png"
    image.save(path)
    with pytest.raises(InputError, match=r"m\.png: palette indices \{2: \(0, 200, 0\)\}"):
        read_mask_labels(path, H, W)


def test_rgb_red_on_gray(tmp_path):
    labels = truth()
    path = tmp_path / "m.png"
    Image.fromarray(rgb_image(labels)).save(path)
    source = read_mask_labels(path, H, W)
    assert source.encoding == "rgb"
    np.testing.assert_array_equal(whole(source), labels)


def test_rgb_custom_mask_color(tmp_path):
    labels = truth()
    path = tmp_path / "m.png"
    Image.fromarray(rgb_image(labels, landslide=(255, 255, 0), background=(0, 0, 0))).save(path)
    source = read_mask_labels(path, H, W, mask_color=(255, 255, 0))
    np.testing.assert_array_equal(whole(source), labels)


def test_black_plus_one_colour_is_detected_with_a_note(tmp_path, caplog):
    """Bijie's masks: yellow (255, 255, 0) landslides on black, no --mask-color needed."""
    labels = truth()
    path = tmp_path / "m.png"
    Image.fromarray(rgb_image(labels, landslide=(255, 255, 0), background=(0, 0, 0))).save(path)
    with caplog.at_level("INFO", logger="quakeslide.io.mask_labels"):
        source = read_mask_labels(path, H, W)
    np.testing.assert_array_equal(whole(source), labels)
    assert "one colour (255, 255, 0): taken as landslide" in caplog.text
    two = rgb_image(labels, landslide=(255, 255, 0), background=(0, 0, 0))
    two[0, 0] = (0, 0, 255)  # a second colour: ambiguous again
    Image.fromarray(two).save(path)
    with pytest.raises(InputError, match=r"neither the landslide colour.*use mask_color"):
        read_mask_labels(path, H, W)


def test_rgb_jpeg_takes_the_nearest_label(tmp_path):
    labels = truth()
    path = tmp_path / "m.jpg"
    Image.fromarray(rgb_image(labels)).save(path, quality=85)
    source = read_mask_labels(path, H, W)
    assert source.encoding == "rgb"
    assert (whole(source) == labels).mean() > 0.97


def test_big_masks_are_scanned_in_strips(tmp_path, monkeypatch):
    monkeypatch.setattr(mask_labels, "WHOLE_READ_PIXELS", 100)
    monkeypatch.setattr(mask_labels, "STRIP_PIXELS", 3 * W)
    values = truth()
    values[-1, -1] = 7  # only in the last strip
    path = write_tif(tmp_path / "m.tif", values)
    with pytest.raises(InputError, match=r"values \{0, 1, 7\}"):
        read_mask_labels(path, H, W)
    rgb = tmp_path / "rgb.png"
    Image.fromarray(rgb_image(truth())).save(rgb)
    np.testing.assert_array_equal(whole(read_mask_labels(rgb, H, W)), truth())


def test_ambiguous_values_are_listed(tmp_path):
    values = np.zeros((H, W), np.uint8)
    values[0, :4] = [0, 1, 2, 7]
    path = tmp_path / "mask.png"
    Image.fromarray(values).save(path)
    message = (
        rf"{path}: cannot tell the label encoding from values \{{0, 1, 2, 7\}}; "
        "use mask_encoding"
    )
    with pytest.raises(InputError, match=message):
        read_mask_labels(path, H, W)
    with pytest.raises(InputError, match=r"values \{0, 128\}"):
        detect_encoding({0, 128}, source="x")


def test_forced_encoding_is_checked(tmp_path):
    path = write_tif(tmp_path / "m.tif", truth())
    with pytest.raises(InputError, match="do not fit mask encoding '0255'"):
        read_mask_labels(path, H, W, encoding="0255")
    with pytest.raises(InputError, match="'rgb' needs a 3-band"):
        read_mask_labels(path, H, W, encoding="rgb")
    assert read_mask_labels(path, H, W, encoding="01").encoding == "01"


def test_png_masks_do_not_warn_about_georeferencing(tmp_path, recwarn):
    path = tmp_path / "m.png"
    Image.fromarray(truth()).save(path)
    whole(read_mask_labels(path, H, W))
    assert not [w for w in recwarn if "geotransform" in str(w.message)]


def test_wrong_size_and_unreadable(tmp_path):
    path = tmp_path / "m.png"
    Image.fromarray(np.zeros((H + 1, W), np.uint8)).save(path)
    with pytest.raises(InputError, match=r"m\.png: mask is 31x40 .* scene is 30x40"):
        read_mask_labels(path, H, W)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    with pytest.raises(InputError, match="junk.png: not a readable"):
        read_mask_labels(junk, H, W)


@pytest.mark.parametrize("kind", ["01", "0255", "rgb", "palette"])
def test_windows_are_slices(tmp_path, kind):
    labels = truth(seed=3)
    path = tmp_path / "m.png"
    if kind == "01":
        Image.fromarray(labels).save(path)
    elif kind == "0255":
        Image.fromarray(labels * 255).save(path)
    elif kind == "rgb":
        Image.fromarray(rgb_image(labels)).save(path)
    else:
        image = Image.fromarray(labels, mode="P")
        image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
        image.save(path)
    source = read_mask_labels(path, H, W)
    assert source.encoding == kind
    for r, c, h, w in [(0, 0, 10, 10), (5, 7, 20, 13), (29, 39, 1, 1), (10, 0, 20, 40)]:
        np.testing.assert_array_equal(
            source.mask(Window(c, r, w, h), None), labels[r : r + h, c : c + w]
        )


def test_mask_folder_item(tmp_path):
    Image.fromarray(truth()).save(tmp_path / "site_a.png")
    write_tif(tmp_path / "site_b.tif", truth())
    assert read_mask_folder_item(tmp_path, "site_a") == tmp_path / "site_a.png"
    assert read_mask_folder_item(tmp_path, "site_b") == tmp_path / "site_b.tif"
    with pytest.raises(InputError, match="no mask named site_c"):
        read_mask_folder_item(tmp_path, "site_c")
