import numpy as np
import pytest
from rasterio.crs import CRS
from rasterio.transform import from_origin

from quakeslide.io.vectors import polygonize


def square_mask():
    mask = np.zeros((20, 20), np.uint8)
    mask[5:15, 5:15] = 1  # 10 x 10 pixels
    mask[0, 0] = 1  # a separate one-pixel landslide
    return mask


def test_areas_in_metres_for_metric_feet_and_geographic_crs():
    mask = square_mask()
    prob = mask * 0.9
    metric = polygonize(mask, prob, from_origin(0, 20, 0.61, 0.61), CRS.from_epsg(32648))
    assert [round(ls.area_m2, 4) for ls in metric] == [round(0.61**2, 4), round(100 * 0.61**2, 4)]
    assert metric[1].perimeter_m == pytest.approx(40 * 0.61)
    assert metric[1].mean_probability == pytest.approx(0.9)
    feet = polygonize(mask, prob, from_origin(0, 20, 2.0, 2.0), CRS.from_epsg(2227))
    assert feet[1].area_m2 == pytest.approx(100 * (2.0 * 0.3048006) ** 2, rel=1e-5)
    degree = 0.61 / 111_320  # about 0.61 m at the equator
    geographic = polygonize(
        mask, prob, from_origin(103.0, 0.001, degree, degree), CRS.from_epsg(4326)
    )
    assert geographic[1].area_m2 == pytest.approx(100 * 0.61**2, rel=0.02)


def test_min_area_drops_small_landslides():
    mask = square_mask()
    kept = polygonize(mask, mask * 1.0, from_origin(0, 20, 1, 1), CRS.from_epsg(32648), 2.0)
    assert len(kept) == 1 and kept[0].area_m2 == pytest.approx(100)
