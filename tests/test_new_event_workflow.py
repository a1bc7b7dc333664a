"""docs/NEW_EVENT.md run end to end on the synthetic world, the truth standing in for the
mapper: predict zero-shot -> suggest -> correct the Labelme chips -> tile -> train --init
-> predict again. Every command is the documented one, through the command line."""

import json

import numpy as np
import pyogrio.raw
import pytest
import rasterio
import shapely
from rasterio.windows import Window
from rasterio.windows import transform as window_transform
from typer.testing import CliRunner

from quakeslide.cli import app
from quakeslide.io.labelme import read_labelme, write_labelme
from quakeslide.records import PredictionSummary

runner = CliRunner()
QUICK = ["--epochs", "1", "--augment", "1", "--batch-size", "4", "--precision", "32-true"]


def ok(*args: str) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def correct_like_a_mapper(chips, scene_tif, truth_gpkg, squares_gpkg) -> int:
    """Replace each chip's pre-filled outlines by the true ones (the scars it shows)."""
    _, _, wkb, _ = pyogrio.raw.read(truth_gpkg)
    truth = shapely.from_wkb(wkb)
    meta, _, _, fields = pyogrio.raw.read(squares_gpkg, layer="suggestions")
    squares = dict(zip(meta["fields"], fields, strict=True))
    with rasterio.open(scene_tif) as scene:
        transform = scene.transform
    drawn = 0
    for rank, col, row in zip(squares["rank"], squares["col"], squares["row"], strict=True):
        chip_json = next(chips.glob(f"{rank:03d}_*.json"))
        doc = json.loads(chip_json.read_text())
        height, width = doc["imageHeight"], doc["imageWidth"]
        chip_transform = window_transform(Window(col, row, width, height), transform)
        box = shapely.box(*rasterio.windows.bounds(Window(col, row, width, height), transform))
        clipped = [shapely.intersection(t, box) for t in truth if t.intersects(box)]
        parts = [p for g in clipped for p in shapely.get_parts(g) if p.geom_type == "Polygon"]
        write_labelme(chip_json, doc["imagePath"], parts, chip_transform, height, width)
        drawn += len(parts)
    return drawn


@pytest.mark.slow
def test_a_new_event_mapped_from_a_parent_and_a_few_corrected_chips(tmp_path):
    w = tmp_path
    ok("synth", "--out", w / "parent", "--name", "parent", "--size", "512", "--seed", "1")
    ok("tile", w / "parent" / "parent.tif", "--labels", w / "parent" / "parent_landslides.gpkg",
       "--out", w / "parent_ds", "--size", "128")  # fmt: skip
    ok("train", w / "parent_ds", "--out", w / "parent_run", *QUICK)
    parent = w / "parent_run" / "checkpoints" / "best.ckpt"
    ok("synth", "--out", w / "event", "--name", "event", "--size", "512", "--seed", "7")
    scene = w / "event" / "event.tif"
    ok("predict", parent, scene, "--out", w / "zero_shot")
    ok("suggest", parent, scene, "--out", w / "suggest", "--n", "3", "--size", "256")
    chips = w / "suggest" / "chips"
    assert len(list(chips.glob("*.png"))) == len(list(chips.glob("*.json"))) == 3
    drawn = correct_like_a_mapper(chips, scene, w / "event" / "event_inventory.gpkg",
                                  w / "suggest" / "suggestions.gpkg")  # fmt: skip
    assert drawn > 0
    for chip_json in chips.glob("*.json"):  # the corrected files read back as labels
        read_labelme(chip_json, 256, 256)
    ok("tile", "--labels", chips, "--out", w / "event_ds", "--size", "128")
    tiles = list((w / "event_ds" / "masks").glob("*.png"))
    assert len(tiles) == 12, "four tiles of each of the three chips"
    ok("train", w / "event_ds", "--out", w / "event_run", "--init", parent, *QUICK)
    ok("predict", w / "event_run" / "checkpoints" / "best.ckpt", scene, "--out", w / "after")
    for folder in ("zero_shot", "after"):
        summary = PredictionSummary.read(w / folder / "event_summary.json")
        with rasterio.open(w / folder / "event_mask.tif") as mask:
            assert mask.read(1).shape == (512, 512)
        assert summary.separation == "shape"
    run = json.loads((w / "event_run" / "summary.json").read_text())
    assert run["train_tiles"] + run["val_tiles"] == 12
    assert np.isfinite(run["best_val_f1"])
