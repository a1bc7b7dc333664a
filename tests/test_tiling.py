import csv

import numpy as np
import pytest
import rasterio
from PIL import Image

from quakeslide.data.synthetic import SceneSpec, make_scene
from quakeslide.data.tiling import TILE_FIELDS, tile_scene
from quakeslide.errors import InputError


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return make_scene(tmp_path_factory.mktemp("scene"), "s", SceneSpec(height=300, width=260))


def test_tiles_carry_their_georeference_and_masks_match_truth(scene, tmp_path):
    result = tile_scene(scene.image_path, scene.polygons_path, tmp_path / "ds", size=128)
    rows = list(csv.DictReader((tmp_path / "ds" / "tiles.csv").read_text().splitlines()))
    assert result.tiles == len(rows) == 9  # 3 x 3, last row/col shifted to the edge
    assert list(rows[0]) == TILE_FIELDS
    with rasterio.open(scene.mask_path) as truth_src:
        truth = truth_src.read(1)
    for row in rows:
        r, c = int(row["row"]), int(row["col"])
        with rasterio.open(tmp_path / "ds" / "images" / f"{row['stem']}.tif") as tile:
            assert tile.crs.to_epsg() == 32648
            assert tile.transform.c == pytest.approx(330000.0 + c * 0.61)
            assert tile.transform.f == pytest.approx(3440000.0 - r * 0.61)
        mask = np.asarray(Image.open(tmp_path / "ds" / "masks" / f"{row['stem']}.png"))
        np.testing.assert_array_equal(mask, truth[r : r + 128, c : c + 128])
        assert float(row["landslide_fraction"]) == pytest.approx(mask.mean(), abs=1e-6)


def test_failures_leave_no_dataset(scene, tmp_path):
    with pytest.raises(InputError, match="not found"):
        tile_scene(scene.image_path, tmp_path / "missing.gpkg", tmp_path / "ds")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "ds").mkdir()
    with pytest.raises(InputError, match="already exists"):
        tile_scene(scene.image_path, scene.polygons_path, tmp_path / "ds")
