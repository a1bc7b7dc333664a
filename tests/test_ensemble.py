import json

import numpy as np
import pytest
import rasterio
from conftest import write_tile_dataset
from rasters import write_geotiff
from typer.testing import CliRunner

from quakeslide.cli import app
from quakeslide.device import plan_compute
from quakeslide.errors import InputError
from quakeslide.folders import CvFolder, PredictionOutputs, RunFolder
from quakeslide.inference.ensemble import checkpoint_paths, load_models
from quakeslide.models.checkpoint import NormalizedNet, checkpoint_metadata, load_net, save_net

PLAN = plan_compute("cpu", "32-true")
CPU = ["--device", "cpu", "--precision", "32-true"]
runner = CliRunner()


def save_model(path, seed=0, bands=3, tile_size=32, threshold=None):
    import torch

    torch.manual_seed(seed)
    net = NormalizedNet("linknet", [0.5] * bands, [0.25] * bands)
    meta = checkpoint_metadata(
        "linknet", [0.5] * bands, [0.25] * bands, tile_size, threshold=threshold
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_net(net, meta, path)


def make_cv_folder(root, folds=3):
    for k in range(folds):
        save_model(CvFolder(root).fold(k).best_checkpoint, seed=k)
    return root


def random_batch(n=2, size=32):
    return np.random.default_rng(1).integers(0, 256, (n, 3, size, size), dtype=np.uint8)


def test_a_model_argument_names_checkpoints(tmp_path):
    single = save_model(tmp_path / "a.ckpt")
    run = RunFolder(tmp_path / "run")
    save_model(run.best_checkpoint)
    cv = make_cv_folder(tmp_path / "cv", folds=3)
    assert checkpoint_paths(single) == [single]
    assert checkpoint_paths(run.root) == [run.best_checkpoint]
    assert checkpoint_paths(cv) == [CvFolder(cv).fold(k).best_checkpoint for k in range(3)]
    assert checkpoint_paths(f"{single},{run.root}") == [single, run.best_checkpoint]


@pytest.mark.parametrize("spec", [",", " , "])
def test_an_empty_ensemble_is_refused(spec):
    with pytest.raises(InputError, match="names no checkpoint"):
        checkpoint_paths(spec)


def test_a_cv_folder_with_an_unfinished_fold_is_refused(tmp_path):
    cv = make_cv_folder(tmp_path / "cv", folds=2)
    CvFolder(cv).fold(2).root.mkdir()  # started, no best checkpoint yet
    with pytest.raises(InputError, match="unfinished fold"):
        checkpoint_paths(cv)


def test_the_ensemble_averages_its_members(tmp_path):
    paths = [
        save_model(tmp_path / f"{k}.ckpt", seed=k, threshold=t) for k, t in [(0, 0.3), (1, 0.5)]
    ]
    engine, name = load_models(",".join(map(str, paths)), PLAN)
    alone = [load_models(p, PLAN)[0] for p in paths]
    batch = random_batch()
    expected = (alone[0].predict(batch) + alone[1].predict(batch)) / 2
    np.testing.assert_allclose(engine.predict(batch), expected, atol=1e-6)
    assert np.abs(alone[0].predict(batch) - alone[1].predict(batch)).max() > 1e-3
    assert name == "linknet x2"
    assert engine.calibrated_threshold == pytest.approx(0.4)  # the members' mean
    assert engine.description["ensemble"] == [str(p) for p in paths]


def test_no_calibrated_threshold_unless_every_member_has_one(tmp_path):
    paths = [save_model(tmp_path / "a.ckpt", threshold=0.3), save_model(tmp_path / "b.ckpt")]
    engine, _ = load_models(f"{paths[0]},{paths[1]}", PLAN)
    assert engine.calibrated_threshold is None


@pytest.mark.parametrize("key,other,words", [("bands", 4, "bands"), ("tile_size", 64, "tile size")])
def test_members_that_disagree_are_refused(tmp_path, key, other, words):
    first = save_model(tmp_path / "a.ckpt")
    second = save_model(tmp_path / "b.ckpt", **{key: other})
    with pytest.raises(InputError, match=f"b.ckpt has {words} {other}, .*a.ckpt has"):
        load_models(f"{first},{second}", PLAN)


def test_members_of_other_classes_are_refused(tmp_path):
    first = save_model(tmp_path / "a.ckpt")
    net, meta = load_net(first)
    second = save_net(
        net, {**meta, "classes": ["background", "landslide", "road"]}, tmp_path / "b.ckpt"
    )
    with pytest.raises(InputError, match="b.ckpt: a model of"):
        load_models(f"{first},{second}", PLAN)


def test_evaluate_a_cv_folder_with_tta(tmp_path):
    write_tile_dataset(tmp_path / "ds", rows=2, cols=2, size=32)
    cv = make_cv_folder(tmp_path / "cv", folds=2)
    out = tmp_path / "eval"
    result = runner.invoke(
        app,
        ["evaluate", str(cv), str(tmp_path / "ds"), "--out", str(out), "--tta", "flip",
         "--panels", "0", *CPU],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == "linknet x2" and metrics["tta"] == "flip"


def test_predict_with_an_ensemble_and_d4(tmp_path):
    scene = write_geotiff(
        tmp_path / "s.tif", np.random.default_rng(0).integers(0, 256, (3, 80, 70), np.uint8)
    )
    models = f"{save_model(tmp_path / 'a.ckpt')},{save_model(tmp_path / 'b.ckpt', seed=1)}"
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["predict", models, str(scene), "--out", str(out), "--tile", "32", "--tta", "d4", *CPU]
    )
    assert result.exit_code == 0, result.output
    outputs = PredictionOutputs.for_stem("s", out)
    summary = json.loads(outputs.summary.read_text())
    assert summary["tta"] == "d4" and len(summary["ensemble"]) == 2
    with rasterio.open(outputs.probability) as src:
        assert src.read(1).shape == (80, 70)


@pytest.mark.parametrize(
    "args,message",
    [(["--tta", "rot90"], "--tta 'rot90'"), (["--threshold", "auto"], "no calibrated threshold")],
)
def test_bad_tta_or_threshold_stops_predict_before_work(tmp_path, args, message):
    scene = write_geotiff(tmp_path / "s.tif", np.zeros((3, 40, 40), np.uint8))
    models = f"{save_model(tmp_path / 'a.ckpt')},{save_model(tmp_path / 'b.ckpt')}"
    out = tmp_path / "out"
    result = runner.invoke(app, ["predict", models, str(scene), "--out", str(out), *args, *CPU])
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and len(errors) == 1 and message in errors[0], result.output
    assert not out.exists()
