"""`suggest`: the squares a model is least sure of, spread out, with pre-filled chips."""

import json
import re

import numpy as np
import pyogrio
import pyogrio.raw
import pytest
import shapely
from rasterio.crs import CRS
from rasterio.warp import transform_geom
from typer.testing import CliRunner

from quakeslide.cli import app
from quakeslide.errors import InputError
from quakeslide.inference.engines import Engine
from quakeslide.inference.suggest import suggest_with
from quakeslide.io.labelme import read_labelme
from quakeslide.options import SuggestOptions
from quakeslide.synthetic import SceneSpec, make_scene

runner = CliRunner()


def bright_soil(batch: np.ndarray) -> np.ndarray:
    """A stand-in model: the brighter, the likelier a landslide (unsure at mid brightness)."""
    brightness = batch.astype(np.float32).mean(axis=1)
    return 1 / (1 + np.exp(-(brightness - 110) / 12))


ENGINE = Engine(bright_soil, 3)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return make_scene(tmp_path_factory.mktemp("suggest"), "scene", SceneSpec(768, 768, seed=5))


def run(scene, out, **options):
    return suggest_with(ENGINE, 0.5, [scene.image_path], out, SuggestOptions(**options))


def test_the_least_sure_squares_come_first_spread_out(scene, tmp_path):
    chosen = run(scene, tmp_path, n=6, size=128, strategy="uncertainty")
    assert len(chosen) == 6 and all(s.picked_by == "uncertainty" for s in chosen)
    scores = [s.score for s in chosen]
    assert scores == sorted(scores, reverse=True)
    cells = [(s.row, s.col) for s in chosen]
    apart = [max(abs(a[0] - b[0]), abs(a[1] - b[1])) for i, a in enumerate(cells)
             for b in cells[i + 1 :]]  # fmt: skip
    assert min(apart) >= 2, "the neighbours of a suggestion are left out"
    meta, _, geometry, fields = pyogrio.raw.read(tmp_path / "suggestions.gpkg", layer="suggestions")
    values = dict(zip(meta["fields"], fields, strict=True))
    assert list(values["rank"]) == [1, 2, 3, 4, 5, 6]
    boxes = shapely.from_wkb(geometry)
    assert all(abs(b.area - (128 * 0.61) ** 2) < 1e-6 for b in boxes)
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    assert pyogrio.list_layers(tmp_path / "suggestions.gpkg")[:, 0].tolist() == [
        "suggestions", "layer_styles"]  # fmt: skip


def test_disagreement_ranks_where_the_views_disagree(scene, tmp_path):
    """A model that sees landslides only on the left of each window: its views disagree
    wherever there is bright soil, and nowhere on dark ground."""

    def left_half_only(batch: np.ndarray) -> np.ndarray:
        probability = bright_soil(batch)
        probability[..., batch.shape[-1] // 2 :] = 0.0
        return probability

    engine = Engine(left_half_only, 3)
    chosen = suggest_with(engine, 0.5, [scene.image_path], tmp_path, SuggestOptions(
        n=4, size=128, strategy="disagreement"))  # fmt: skip
    assert [s.picked_by for s in chosen] == ["disagreement"] * 4
    scores = [s.score for s in chosen]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0.05
    meta, _, _, fields = pyogrio.raw.read(tmp_path / "suggestions.gpkg", layer="suggestions")
    values = dict(zip(meta["fields"], fields, strict=True))
    assert values["uncertainty"] == pytest.approx(scores)
    invariant = run(scene, tmp_path / "invariant", n=4, size=128, strategy="disagreement")
    assert max(s.score for s in invariant) < 1e-6  # bright_soil reads no orientation


def test_mixed_draws_a_quarter_at_random_and_random_draws_all(scene, tmp_path):
    mixed = run(scene, tmp_path / "mixed", n=8, size=128, strategy="mixed")
    assert [s.picked_by for s in mixed].count("random") == 2
    drawn = run(scene, tmp_path / "random", n=8, size=128, strategy="random")
    assert {s.picked_by for s in drawn} == {"random"}
    again = run(scene, tmp_path / "again", n=8, size=128, strategy="random")
    assert [(s.row, s.col) for s in again] == [(s.row, s.col) for s in drawn], "seeded"


def test_chips_come_with_the_models_outlines_to_correct(scene, tmp_path):
    chosen = run(scene, tmp_path, n=3, size=128, strategy="uncertainty")
    chips = sorted((tmp_path / "chips").glob("*.png"))
    assert [c.name for c in chips] == ["001_scene.png", "002_scene.png", "003_scene.png"]
    for chip, square in zip(chips, chosen, strict=True):
        doc = json.loads(chip.with_suffix(".json").read_text())
        assert doc["imagePath"] == chip.name and doc["flags"] == {"reviewed": False}
        assert (doc["imageHeight"], doc["imageWidth"]) == (128, 128)
        labels = read_labelme(chip.with_suffix(".json"), 128, 128)
        assert len(labels) > 0 and labels.mask(square.window.__class__(0, 0, 128, 128)).any()
        for shape in doc["shapes"]:  # simplified: far fewer vertices than outline pixels
            outline = shapely.Polygon(shape["points"])
            assert outline.is_valid and len(shape["points"]) < 0.5 * outline.length + 5


def test_labelled_areas_in_another_crs_are_not_suggested_again(scene, tmp_path):
    first = run(scene, tmp_path / "first", n=4, size=128, strategy="uncertainty")
    _, _, geometry, _ = pyogrio.raw.read(
        tmp_path / "first" / "suggestions.gpkg", layer="suggestions"
    )
    done = [shapely.geometry.shape(transform_geom(CRS.from_epsg(32648), CRS.from_epsg(4326),
            shapely.from_wkb(g).buffer(-1).__geo_interface__)) for g in geometry]  # fmt: skip
    labelled = tmp_path / "labelled.gpkg"
    pyogrio.raw.write(labelled, shapely.to_wkb(np.array(done, dtype=object)), [], [],
                      driver="GPKG", geometry_type="Polygon", crs="EPSG:4326")  # fmt: skip
    second = run(scene, tmp_path / "second", n=4, size=128, strategy="uncertainty",
                 labelled=labelled)  # fmt: skip
    assert not {(s.row, s.col) for s in first} & {(s.row, s.col) for s in second}


def test_a_fully_labelled_scene_and_n_zero_get_one_line(scene, tmp_path):
    everything = tmp_path / "all.gpkg"
    box = shapely.box(*shapely.total_bounds(shapely.from_wkb(
        pyogrio.raw.read(scene.polygons_path)[2]))).buffer(2000)  # fmt: skip
    pyogrio.raw.write(everything, shapely.to_wkb(np.array([box], dtype=object)), [], [],
                      driver="GPKG", geometry_type="Polygon", crs="EPSG:32648")  # fmt: skip
    with pytest.raises(InputError, match="no square left to suggest"):
        run(scene, tmp_path / "none", n=4, size=128, labelled=everything)
    result = runner.invoke(app, ["suggest", "model.ckpt", str(scene.image_path), "--out",
                                 str(tmp_path / "x"), "--n", "0"])  # fmt: skip
    assert result.exit_code == 2 and "--n" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_the_report_maps_the_squares_over_their_chips(scene, tmp_path):
    run(scene, tmp_path / "s", n=3, size=128, strategy="uncertainty")
    page = tmp_path / "s.html"
    result = runner.invoke(app, ["report", str(tmp_path / "s"), "--out", str(page)])
    assert result.exit_code == 0, result.output
    text = page.read_text()
    data = json.loads(re.search(r"quakeslideMap\((\{.*?\})\);</script>", text).group(1))
    assert [f["properties"]["rank"] for f in data["landslides"]["features"]] == [1, 2, 3]
    assert [o["name"] for o in data["overlays"]] == ["chip 1", "chip 2", "chip 3"]
    assert all(o["shown"] for o in data["overlays"])
    assert "Where to draw next" in text
