import os
import warnings

import numpy as np
import pytest
import rasterio
from affine import Affine
from PIL import Image
from rasterio.crs import CRS
from rasterio.enums import ColorInterp
from rasterio.windows import Window
from rasters import random_rgb, write_geotiff

from quakeslide.errors import InputError
from quakeslide.io.scene import Stretch, open_scene_reader

TRANSFORM = Affine(0.5, 0, 500000.0, 0, -0.5, 4000000.0)


def write_tif(path, data, crs="EPSG:32645", nodata=None, **extra):
    profile = dict(
        driver="GTiff",
        height=data.shape[1],
        width=data.shape[2],
        count=data.shape[0],
        dtype=data.dtype,
        crs=crs,
        transform=TRANSFORM,
        nodata=nodata,
        **extra,
    )
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def rgb(h=40, w=50, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (3, h, w), dtype=np.uint8)


def whole(reader):
    return reader.read(Window(0, 0, reader.width, reader.height))


def test_rgb_uint8_geotiff_is_passed_through_with_its_georeference(tmp_path):
    data = rgb()
    with open_scene_reader(write_tif(tmp_path / "s.tif", data)) as reader:
        image, valid = whole(reader)
        assert reader.bands == [1, 2, 3]
        assert reader.stretch is None
        assert reader.georeferenced
        assert reader.crs == CRS.from_epsg(32645)
        assert reader.transform == TRANSFORM
        assert (reader.height, reader.width) == (40, 50)
    assert image.dtype == np.uint8
    np.testing.assert_array_equal(image, data)
    assert valid.all()


def test_png_and_jpeg_without_georeference(tmp_path):
    # smooth, so that the lossy JPEG stays close to the source
    yy, xx = np.mgrid[0:40, 0:50]
    data = np.stack([yy * 5, xx * 5, yy + xx]).astype(np.uint8)
    hwc = data.transpose(1, 2, 0)
    Image.fromarray(hwc).save(tmp_path / "s.png")
    Image.fromarray(hwc).save(tmp_path / "s.jpg", quality=95)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NotGeoreferencedWarning must be suppressed
        with open_scene_reader(tmp_path / "s.png") as reader:
            image, valid = whole(reader)
            assert not reader.georeferenced
            assert reader.crs is None
            assert reader.transform == Affine.identity()
        np.testing.assert_array_equal(image, data)
        assert valid.all()
        with open_scene_reader(tmp_path / "s.jpg") as reader:
            image, valid = whole(reader)
            assert not reader.georeferenced
    assert image.shape == (3, 40, 50)
    assert np.abs(image.astype(int) - data).mean() < 3
    assert valid.all()


def test_rgba_png_alpha_is_the_valid_mask(tmp_path):
    data = rgb()
    alpha = np.full((40, 50), 255, dtype=np.uint8)
    alpha[:10, :20] = 0
    Image.fromarray(np.dstack([data.transpose(1, 2, 0), alpha]), "RGBA").save(tmp_path / "a.png")
    with open_scene_reader(tmp_path / "a.png") as reader:
        image, valid = whole(reader)
        assert reader.bands == [1, 2, 3]
    np.testing.assert_array_equal(valid, alpha > 0)
    assert (image[:, ~valid] == 0).all()
    np.testing.assert_array_equal(image[:, valid], data[:, valid])


def test_rgba_geotiff_alpha_band_is_not_an_output_band(tmp_path):
    alpha = np.full((1, 40, 50), 255, dtype=np.uint8)
    alpha[0, -5:] = 0
    path = write_tif(tmp_path / "a.tif", np.concatenate([rgb(), alpha]))
    with rasterio.open(path, "r+") as dst:
        dst.colorinterp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue, ColorInterp.alpha]
    with open_scene_reader(path) as reader:
        _, valid = whole(reader)
        assert reader.bands == [1, 2, 3]
    np.testing.assert_array_equal(valid, alpha[0] > 0)


def test_nodata_pixels_are_invalid_only_when_all_bands_are_nodata(tmp_path):
    data = rgb()
    data[data == 0] = 1
    data[:, 5, 5] = 0  # all bands nodata
    data[0, 6, 6] = 0  # one band only
    with open_scene_reader(write_tif(tmp_path / "n.tif", data, nodata=0)) as reader:
        _, valid = whole(reader)
    assert not valid[5, 5]
    assert valid[6, 6]
    assert valid.sum() == 40 * 50 - 1


def test_uint16_scene_is_stretched_to_full_range_and_stored_stretch_reproduces(tmp_path):
    rng = np.random.default_rng(1)
    data = rng.integers(200, 3000, (3, 60, 70), dtype=np.uint16)
    data[:, :3, :3] = 65535  # outliers beyond the 98th percentile
    path = write_tif(tmp_path / "u.tif", data)
    with open_scene_reader(path) as reader:
        image, valid = whole(reader)
        stretch = reader.stretch
    assert stretch is not None and stretch.percentiles == (2.0, 98.0)
    assert valid.all()
    for band in image:
        assert band.min() == 0 and band.max() == 255
    restored = Stretch.from_dict(stretch.to_dict())
    assert restored == stretch
    with open_scene_reader(path, stretch=restored) as reader:
        again, _ = whole(reader)
    np.testing.assert_array_equal(again, image)
    np.testing.assert_array_equal(restored.apply(data), restored.apply(data))
    np.testing.assert_array_equal(restored.apply(data), image)


def test_stretch_ignores_nodata(tmp_path):
    data = np.full((3, 30, 30), 1000, dtype=np.uint16)
    data[:, :, 15:] = 2000
    data[:, :20, :] = 0  # nodata covers most of the scene
    with open_scene_reader(write_tif(tmp_path / "n.tif", data, nodata=0)) as reader:
        assert reader.stretch.low == [1000.0] * 3
        assert reader.stretch.high == [2000.0] * 3


def test_float32_scene_with_nan(tmp_path):
    data = np.random.default_rng(2).normal(0.2, 0.05, (3, 30, 40)).astype(np.float32)
    data[:, 0, 0] = np.nan
    with open_scene_reader(write_tif(tmp_path / "f.tif", data)) as reader:
        image, valid = whole(reader)
    assert image.dtype == np.uint8
    assert image.max() == 255 and image[:, valid].min() == 0
    assert not valid[0, 0] and valid.sum() == 30 * 40 - 1


def test_large_scene_stretch_uses_a_decimated_read(tmp_path, monkeypatch):
    monkeypatch.setattr("quakeslide.io.scene.STRETCH_SAMPLE_PIXELS", 100)
    data = np.random.default_rng(3).integers(0, 4000, (1, 200, 300), dtype=np.uint16)
    with open_scene_reader(write_tif(tmp_path / "big.tif", data)) as reader:
        assert reader.bands == [1]
        low, high = reader.stretch.low[0], reader.stretch.high[0]
    assert 0 <= low < 400 and 3600 < high <= 4000


def test_five_band_scene_needs_bands_and_keeps_their_order(tmp_path):
    data = np.stack([np.full((20, 30), 10 * (b + 1), dtype=np.uint8) for b in range(5)])
    path = write_tif(tmp_path / "ms.tif", data)
    with pytest.raises(InputError, match=r"ms\.tif.*e\.g\. bands 3,2,1"):
        open_scene_reader(path)
    with open_scene_reader(path, bands=[3, 2, 1]) as reader:
        image, _ = whole(reader)
        assert reader.bands == [3, 2, 1]
    assert [int(band[0, 0]) for band in image] == [30, 20, 10]


@pytest.mark.parametrize("bands", [[0, 1, 2], [1, 2, 4], []])
def test_invalid_band_index(tmp_path, bands):
    path = write_tif(tmp_path / "s.tif", rgb())
    with pytest.raises(InputError, match=r"s\.tif.*band"):
        open_scene_reader(path, bands=bands)


def test_stretch_with_wrong_band_count_is_refused(tmp_path):
    data = np.ones((3, 10, 10), dtype=np.uint16)
    path = write_tif(tmp_path / "u.tif", data)
    with pytest.raises(InputError, match=r"u\.tif.*stretch"):
        open_scene_reader(path, stretch=Stretch(low=[0.0], high=[1.0]))


def test_edge_window_is_padded_and_padding_is_invalid(tmp_path):
    data = rgb()
    with open_scene_reader(write_tif(tmp_path / "s.tif", data)) as reader:
        image, valid = reader.read(Window(40, 30, 10, 10), pad_to=(16, 16))
        outside, outside_valid = reader.read(Window(45, 35, 16, 16), pad_to=(16, 16))
    assert image.shape == (3, 16, 16) and valid.shape == (16, 16)
    np.testing.assert_array_equal(image[:, :10, :10], data[:, 30:40, 40:50])
    assert valid[:10, :10].all()
    assert not valid[10:].any() and not valid[:, 10:].any()
    assert (image[:, 10:] == 0).all() and (image[:, :, 10:] == 0).all()
    assert valid.sum() == 100
    assert outside_valid.sum() == 5 * 5
    np.testing.assert_array_equal(outside[:, :5, :5], data[:, 35:, 45:])


def test_truncated_file_raises_input_error_naming_it(tmp_path):
    path = write_tif(tmp_path / "t.tif", rgb(200, 200))
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)
    with (
        pytest.raises(InputError, match=r"t\.tif: cannot read window") as info,
        open_scene_reader(path) as reader,
    ):
        whole(reader)
    assert "\n" not in str(info.value)


def test_constant_band_does_not_divide_by_zero(tmp_path):
    data = np.full((1, 20, 20), 777, dtype=np.uint16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with open_scene_reader(write_tif(tmp_path / "c.tif", data)) as reader:
            image, valid = whole(reader)
    assert reader.stretch.low == reader.stretch.high == [777.0]
    assert valid.all() and (image == 0).all()
    constant = Stretch(low=[5.0], high=[5.0])
    np.testing.assert_array_equal(constant.apply(np.array([[[4, 5, 6]]])), [[[0, 0, 255]]])


def test_internal_mask_marks_invalid_pixels(tmp_path):
    path = write_tif(tmp_path / "m.tif", rgb())
    mask = np.full((40, 50), 255, dtype=np.uint8)
    mask[20:, :] = 0
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(path, "r+") as dst:
        dst.write_mask(mask)
    with open_scene_reader(path) as reader:
        image, valid = whole(reader)
    np.testing.assert_array_equal(valid, mask > 0)
    assert (image[:, 20:] == 0).all()


def test_four_bands_without_alpha_need_bands(tmp_path):
    # GDAL reads a default 4-band uint8 GeoTIFF as RGBA; MINISBLACK makes band 4 a plain band
    data = np.concatenate([rgb(), rgb()[:1]])
    path = write_tif(tmp_path / "rgbn.tif", data, photometric="MINISBLACK")
    with pytest.raises(InputError, match="4 bands.*bands 3,2,1"):
        open_scene_reader(path)


def test_gdal_cache_holds_two_rows_of_blocks(tmp_path):
    from quakeslide.io.raster import band_pass_cache_mb
    from quakeslide.io.scene import open_scene_reader

    assert band_pass_cache_mb(2 * 4000 * 256 * 3, 4000, outputs=3) == 64  # the floor
    # 16000 px, 3-band uint8 input: 2 x 12.3 MB input + 2 x 12.3 MB output tiles + 16
    assert band_pass_cache_mb(16000 * 256 * 3, 16000, outputs=3) == 64
    assert band_pass_cache_mb(40000 * 256 * 3, 40000, outputs=3) == 134
    scene = write_geotiff(tmp_path / "s.tif", random_rgb(40, 30))
    with rasterio.open(scene) as src:
        block_rows = src.block_shapes[0][0]
    with open_scene_reader(scene, None) as reader:
        assert reader.rows_bytes(1) == 30 * block_rows * 3  # at least one block row
        assert reader.rows_bytes(500) == 30 * 500 * 3
