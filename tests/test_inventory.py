"""The event inventory: fits that recover the parameters samples were drawn with, mLS as
the authors' code computes it, volumes and densities that add up, the command, bad input."""

import json

import numpy as np
import pyogrio
import pytest
import rasterio
import rasterio.transform
import shapely
import shapely.affinity
from scipy import stats
from typer.testing import CliRunner

from quakeslide.cli import app
from quakeslide.errors import InputError
from quakeslide.inventory.density import density_grids
from quakeslide.inventory.magnitude import landslide_magnitude
from quakeslide.inventory.statistics import fit_inverse_gamma, fit_tail
from quakeslide.inventory.volume import VOLUME_MODELS, total_volume, volumes_m3

runner = CliRunner()


def test_the_tail_fit_recovers_a_known_exponent_and_cutoff():
    rng = np.random.default_rng(0)
    body = 500 * rng.random(3000) ** 2 + 20  # below the cutoff: not a power law
    tail = 500 * (1 - rng.random(5000)) ** (-1 / 1.4)  # density exponent 2.4 above 500 m2
    fit = fit_tail(np.concatenate([body, tail]))
    assert fit.exponent == pytest.approx(2.4, abs=0.05)
    assert fit.exponent_ci[0] < 2.4 < fit.exponent_ci[1]
    assert fit.cutoff_m2 == pytest.approx(500, rel=0.15) and fit.n_tail > 4000


def test_the_inverse_gamma_fit_recovers_known_parameters():
    # Malamud et al. 2004's fit in m2: rho 1.4, a 1280 m2, s -132 m2
    areas = stats.invgamma.rvs(1.4, loc=-132, scale=1280, size=6000, random_state=1)
    fit = fit_inverse_gamma(areas[areas > 0])
    assert fit.rho == pytest.approx(1.4, rel=0.1)
    assert fit.a_m2 == pytest.approx(1280, rel=0.15)
    assert fit.s_m2 == pytest.approx(-132, abs=60)
    assert fit.rollover_m2 == pytest.approx(1280 / 2.4 - 132, rel=0.2)


def test_too_few_landslides_refuse_a_fit_with_the_reason():
    with pytest.raises(ValueError, match="12 landslides: a tail needs at least 30"):
        fit_tail(np.linspace(10, 1000, 12))
    with pytest.raises(ValueError, match="needs at least 30"):
        fit_inverse_gamma(np.linspace(10, 1000, 12))


def test_magnitude_as_the_reference_code_computes_it():
    # worked through the steps of USGS landslides-mLS's mLS.m by hand
    assert landslide_magnitude(np.array([1000.0] * 5 + [5000, 20000]), 1000, 2.5) == (
        pytest.approx(1.386938, abs=1e-6)
    )
    i = np.arange(1, 1001)
    areas = 1000 * (1 - (i - 0.5) / 1000) ** (-1 / 1.4)
    assert landslide_magnitude(areas, 1000, 2.4) == pytest.approx(3.174843, abs=1e-6)
    assert landslide_magnitude(areas, 1000, -2.4) == landslide_magnitude(areas, 1000, 2.4)


def test_volumes_are_the_laws_worked_by_hand():
    areas = np.array([100.0, 1000.0, 10000.0])
    guzzetti = 0.074 * (100**1.45 + 1000**1.45 + 10000**1.45)
    assert volumes_m3(areas, VOLUME_MODELS["guzzetti"]).sum() == pytest.approx(guzzetti)
    soil = 10**-0.649 * (areas**1.262).sum()
    assert volumes_m3(areas, VOLUME_MODELS["larsen-soil"]).sum() == pytest.approx(soil)
    total = total_volume(areas, "larsen-soil")
    assert total.low < soil < total.high and total.low < total.median < total.high
    assert total_volume(np.array([]), "guzzetti").median == 0.0


def test_density_grids_sum_to_the_count_and_the_area():
    polygons = np.array([shapely.box(10, 10, 60, 60), shapely.box(90, 90, 130, 140),
                         shapely.Point(250, 20).buffer(15)])  # fmt: skip
    grids = density_grids(polygons, (0, 0, 300, 200), 100)
    assert grids.counts.shape == (2, 3) and grids.counts.sum() == 3
    assert grids.area_m2.sum() == pytest.approx(shapely.area(polygons).sum())
    assert grids.area_m2[0, 1] == pytest.approx(40 * 30)  # the box over a cell corner, split
    assert grids.number_per_km2.sum() == pytest.approx(3 / 0.01)
    with pytest.raises(InputError, match="grid 500 m: a cell as large as the mapped ground"):
        density_grids(polygons, (0, 0, 300, 200), 500)


def write_polygons(path, polygons, crs="EPSG:32648"):
    pyogrio.raw.write(path, shapely.to_wkb(np.array(polygons, dtype=object)),
                      [np.arange(len(polygons))], ["id"], driver="GPKG", crs=crs,
                      geometry_type="Polygon")  # fmt: skip
    return path


def power_law_polygons(count: int, seed: int = 0, origin=(500000.0, 3400000.0)):
    rng = np.random.default_rng(seed)
    areas = 200 * (1 - rng.random(count)) ** (-1 / 1.4)
    side = np.sqrt(areas)
    x = origin[0] + rng.uniform(0, 20000, count)
    y = origin[1] + rng.uniform(0, 20000, count)
    return [shapely.box(a, b, a + s, b + s) for a, b, s in zip(x, y, side, strict=True)]


def test_the_command_writes_the_inventory(tmp_path):
    source = write_polygons(tmp_path / "event.gpkg", power_law_polygons(600))
    out = tmp_path / "inventory"
    result = runner.invoke(app, ["inventory", str(source), "--out", str(out), "--grid", "2000"])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "inventory.json").read_text())
    assert record["count"] == 600 and record["refused"] == {}
    assert record["tail"]["exponent"] == pytest.approx(2.4, abs=0.25)
    assert record["mls"] > 0 and record["inverse_gamma"]["rho"] > 0
    volume = record["volume_m3"]
    assert volume["model"] == "larsen-soil" and volume["low"] < volume["median"] < volume["high"]
    with rasterio.open(out / "density_number.tif") as number:
        assert number.read(1).sum() * 4 == pytest.approx(600)  # per km2, cells of 4 km2
    with rasterio.open(out / "density_area.tif") as areal:
        assert (areal.read(1).sum() / 100 * 2000**2) == pytest.approx(record["total_area_m2"])
    _, _, _, fields = pyogrio.raw.read(out / "landslides.gpkg", layer="landslides")
    assert fields[2].sum() == pytest.approx(
        volumes_m3(fields[1], VOLUME_MODELS["larsen-soil"]).sum()
    )
    assert (out / "fad.png").stat().st_size > 10_000 and (out / "density_area.qml").exists()
    page = tmp_path / "inventory.html"
    result = runner.invoke(app, ["report", str(out), "--out", str(page)])
    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert "Inventory: inventory" in html and "Frequency-area distribution" in html
    assert "tail.exponent" in html and "<img" in html


def test_a_small_inventory_is_counted_and_its_fits_refused_in_one_line_each(tmp_path):
    source = write_polygons(tmp_path / "few.gpkg", power_law_polygons(12))
    result = runner.invoke(app, ["inventory", str(source), "--out", str(tmp_path / "i")])
    assert result.exit_code == 0, result.output
    assert "tail: not fitted (12 landslides: a tail needs at least 30)" in result.output
    record = json.loads((tmp_path / "i" / "inventory.json").read_text())
    assert record["count"] == 12 and record["tail"] is None and record["mls"] is None
    assert set(record["refused"]) == {"tail", "mls", "inverse_gamma"}


def test_polygons_in_a_geographic_crs_are_measured_in_metres(tmp_path):
    degrees = [shapely.box(104.0 + k * 0.01, 31.0, 104.0 + k * 0.01 + 0.001, 31.001)
               for k in range(40)]  # fmt: skip
    source = write_polygons(tmp_path / "wgs84.gpkg", degrees, crs="EPSG:4326")
    out = tmp_path / "i"
    result = runner.invoke(app, ["inventory", str(source), "--out", str(out), "--grid", "100"])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "inventory.json").read_text())
    assert record["crs"] == "EPSG:32648"  # the UTM zone of the polygons
    # 0.001 degrees: about 95 m east-west x 111 m north-south at 31 N
    assert record["total_area_m2"] / 40 == pytest.approx(95.4 * 110.9, rel=0.02)


@pytest.mark.parametrize("case,message", [
    ("empty", "not a prediction folder, a vector file or a mask"),
    ("grid", "a cell as large as the mapped ground"),
    ("no_crs", "has no CRS"),
])  # fmt: skip
def test_bad_inventory_input_gets_one_line(tmp_path, case, message):
    source = write_polygons(tmp_path / "e.gpkg", power_law_polygons(40))
    args = [str(source), "--grid", "1000000"] if case == "grid" else [str(source)]
    if case == "empty":
        args = [str(tmp_path / "nothing.txt")]
        (tmp_path / "nothing.txt").write_text("")
    if case == "no_crs":
        args = [str(write_polygons(tmp_path / "n.gpkg", power_law_polygons(40), crs=None))]
    result = runner.invoke(app, ["inventory", *args, "--out", str(tmp_path / "i")])
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and len(errors) == 1 and message in errors[0], result.output


def test_a_truth_inventory_is_compared_and_matched(tmp_path):
    truth = power_law_polygons(80, seed=4)
    shifted = [shapely.affinity.translate(p, 1.0, 0.0) for p in truth]  # 1 m off
    mapped = write_polygons(tmp_path / "mapped.gpkg", shifted)
    drawn = write_polygons(tmp_path / "truth.gpkg", truth)
    out = tmp_path / "i"
    result = runner.invoke(app, ["inventory", str(mapped), "--out", str(out),
                                 "--truth", str(drawn), "--grid", "2000"])  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads((out / "inventory.json").read_text())
    compare = record["compare"]
    assert record["truth"]["count"] == 80 and compare["count_ratio"] == 1.0
    assert compare["area_ratio"] == pytest.approx(1.0)
    assert compare["matched_by_size"]["all"] == {"truth": 80, "matched": 80, "rate": 1.0}
    assert compare["overlap"] and compare["ks_distance"] == pytest.approx(0.0)


def test_a_truth_elsewhere_is_said_and_still_compared(tmp_path):
    mapped = write_polygons(tmp_path / "mapped.gpkg", power_law_polygons(40))
    far = write_polygons(tmp_path / "far.gpkg", power_law_polygons(40, origin=(700000.0, 0.0)))
    out = tmp_path / "i"
    result = runner.invoke(app, ["inventory", str(mapped), "--out", str(out), "--truth",
                                 str(far), "--grid", "2000"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "the truth does not overlap the mapped ground" in result.output
    compare = json.loads((out / "inventory.json").read_text())["compare"]
    assert compare["overlap"] is False and compare["count_ratio"] == 1.0


def test_a_mask_is_read_as_one_polygon_per_region(tmp_path):
    data = np.zeros((1, 60, 80), np.uint8)
    data[0, 5:15, 5:25] = 1  # 200 px
    data[0, 30:50, 40:50] = 1  # 200 px
    data[0, 55:60, 0:80] = 255  # ignore: not a landslide
    profile = {"driver": "GTiff", "height": 60, "width": 80, "count": 1, "dtype": "uint8",
               "crs": "EPSG:32648",
               "transform": rasterio.transform.from_origin(500000, 3400000, 2, 2)}  # fmt: skip
    with rasterio.open(tmp_path / "truth.tif", "w", **profile) as dst:
        dst.write(data)
    from quakeslide.inventory.sources import read_inventory

    inventory = read_inventory([tmp_path / "truth.tif"])
    assert sorted(inventory.areas_m2) == [800.0, 800.0]  # 200 px of 4 m2
