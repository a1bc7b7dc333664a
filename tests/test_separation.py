"""Touching landslides kept apart: two touching blobs split, one blob left whole, area kept."""

import numpy as np
import pyogrio.raw
import pytest
import shapely
from rasterio.crs import CRS
from rasterio.transform import from_origin
from rasters import write_geotiff

from quakeslide.inference.engines import Engine
from quakeslide.inference.predict import predict_scene
from quakeslide.io.separation import split_region
from quakeslide.io.vectors import polygonize
from quakeslide.records import PredictionSummary

Y, X = np.mgrid[0:80, 0:140]
TWO_DISCS = ((X - 40) ** 2 + (Y - 40) ** 2 < 30**2) | ((X - 95) ** 2 + (Y - 40) ** 2 < 28**2)
ELLIPSE = ((X - 70) / 60.0) ** 2 + ((Y - 40) / 25.0) ** 2 < 1


def wobbly_blob(seed: int) -> np.ndarray:
    """One irregular scar: an ellipse whose radius wanders by up to 15 %."""
    rng = np.random.default_rng(seed)
    angle = np.arctan2(Y - 40, (X - 70) / 2.0)
    radius = 1 + sum(
        rng.uniform(-0.05, 0.05) * np.sin(k * angle + rng.uniform(0, 6)) for k in (2, 3, 5)
    )
    return np.hypot((X - 70) / 2.0, Y - 40) < 28 * radius


def probability_with_a_dip(mask: np.ndarray, columns: slice, dip: float) -> np.ndarray:
    """0.95 inside, `dip` on a band of columns (a seam the model is less sure of)."""
    probability = np.where(mask, 0.95, 0.0).astype(np.float32)
    probability[:, columns] = np.where(mask[:, columns], dip, 0.0)
    return probability


@pytest.mark.parametrize("method", ["shape", "probability"])
def test_two_touching_blobs_are_split_at_their_neck(method):
    probability = probability_with_a_dip(TWO_DISCS, slice(66, 70), 0.6)
    labels, count = split_region(TWO_DISCS, probability, method)
    assert count == 2
    assert ((labels > 0) == TWO_DISCS).all(), "every pixel stays in a landslide"
    left, right = labels[40, 30], labels[40, 100]
    assert left != right and left > 0 and right > 0
    assert abs((labels == left).sum() - np.pi * 30**2) < 0.1 * np.pi * 30**2


@pytest.mark.parametrize("method", ["shape", "probability"])
@pytest.mark.parametrize("blob", ["ellipse", "wobbly-1", "wobbly-2", "wobbly-3"])
def test_one_blob_is_left_whole(method, blob):
    mask = ELLIPSE if blob == "ellipse" else wobbly_blob(int(blob[-1]))
    probability = np.where(mask, 0.9, 0.0).astype(np.float32)
    labels, count = split_region(mask, probability, method)
    assert count == 1 and ((labels == 1) == mask).all()


def test_probability_keeps_touching_blobs_together_when_it_does_not_dip():
    probability = probability_with_a_dip(TWO_DISCS, slice(66, 70), 0.9)
    assert split_region(TWO_DISCS, probability, "probability")[1] == 1
    assert split_region(TWO_DISCS, probability, "none")[1] == 1


@pytest.mark.parametrize("band_rows", [80, 7, 1])
def test_polygons_of_split_regions_share_their_edge_and_keep_the_area(band_rows):
    """Streamed in bands (the blobs cross every seam), the split is the same."""
    mask = np.zeros((100, 160), np.uint8)
    mask[10:90, 10:150] = TWO_DISCS
    probability = np.where(mask, 0.9, 0.0).astype(np.float32)
    transform, crs = from_origin(0, 100, 1, 1), CRS.from_epsg(32648)
    whole = polygonize(mask, probability, transform, crs, band_rows=band_rows)
    apart = polygonize(mask, probability, transform, crs, band_rows=band_rows, separation="shape")
    assert len(whole) == 1 and len(apart) == 2
    assert sum(ls.area_m2 for ls in apart) == pytest.approx(whole[0].area_m2)
    assert {round(ls.mean_probability, 6) for ls in apart} == {0.9}
    first, second = (ls.geometry for ls in apart)
    assert first.touches(second) and first.intersection(second).length > 10
    assert shapely.union(first, second).equals(whole[0].geometry)


def touching_pairs_scene(path, pairs: int = 40, singles: int = 40, seed: int = 0):
    """Bright discs on a dark ground: `pairs` of touching discs and `singles` discs alone,
    in a 0.61 m UTM grid; returns the path and the number of discs."""
    rng = np.random.default_rng(seed)
    size = 1200
    image = np.full((3, size, size), 20, np.uint8)
    yy, xx = np.mgrid[0:size, 0:size]
    cells = [(r, c) for r in range(60, size - 60, 120) for c in range(60, size - 60, 120)]
    for n, (r, c) in enumerate(rng.permutation(cells)[: pairs + singles]):
        radius = rng.uniform(14, 24)
        image[:, (yy - r) ** 2 + (xx - c) ** 2 < radius**2] = 230
        if n < pairs:  # a second disc, its centre 1.7 radii away: they meet at a neck
            r2, c2 = r + 0.3 * radius, c + 1.65 * radius
            image[:, (yy - r2) ** 2 + (xx - c2) ** 2 < (0.9 * radius) ** 2] = 230
    write_geotiff(path, image)
    return path, 2 * pairs + singles


@pytest.mark.parametrize("separation", ["none", "shape"])
def test_predict_counts_touching_landslides_apart_and_writes_the_scenes_inventory(
    tmp_path, separation
):
    scene, discs = touching_pairs_scene(tmp_path / "pairs.tif")
    bright = Engine(lambda batch: batch.astype(np.float32).mean(axis=1) / 255.0, 3)
    outputs = predict_scene(bright, scene, tmp_path / separation, tile=128, separation=separation)
    summary = PredictionSummary.read(outputs.summary)
    assert summary.separation == separation
    assert summary.count == (discs if separation == "shape" else 80)
    event = summary.event
    assert event is not None and event.count == summary.count
    assert event.total_area_m2 == pytest.approx(summary.total_area_m2)
    assert (event.tail is None) == ("tail" in event.refused)
    _, _, geometries, _ = pyogrio.raw.read(outputs.landslides, layer="landslides")
    assert shapely.area(shapely.from_wkb(geometries)).sum() == pytest.approx(event.total_area_m2)
