"""--normalization own: inputs standardised by the scene's own statistics."""

import json

import numpy as np
import pytest
import rasterio
import torch
from conftest import write_scenes_dataset
from rasters import random_rgb, write_geotiff
from typer.testing import CliRunner

from quakeslide.cli import app
from quakeslide.data.dataset import TileDataset, channel_stats
from quakeslide.device import plan_compute
from quakeslide.errors import InputError
from quakeslide.evaluation.run import scenes_of_tiles, tile_engines
from quakeslide.folders import EvaluationFolder, PredictionOutputs
from quakeslide.inference.engines import Statistics, torch_engine
from quakeslide.inference.ensemble import average
from quakeslide.inference.standardise import scene_statistics, standardised
from quakeslide.models.checkpoint import NormalizedNet, checkpoint_metadata, save_net

PLAN = plan_compute("cpu", "32-true")
CPU = ["--device", "cpu", "--precision", "32-true"]
runner = CliRunner()


def net_with(mean, std, seed=0) -> NormalizedNet:
    torch.manual_seed(seed)
    return NormalizedNet("linknet", list(mean), list(std)).eval()


def twin(net: NormalizedNet, statistics: Statistics) -> NormalizedNet:
    """The same weights, normalising with `statistics` instead of the training ones."""
    other = NormalizedNet("linknet", statistics.mean, statistics.std)
    other.net.load_state_dict(net.net.state_dict())
    return other.eval()


def batch(n=2, size=32, seed=1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 3, size, size), dtype=np.uint8)


SCENE = Statistics([0.3, 0.35, 0.2], [0.1, 0.15, 0.12])


def test_a_standardised_engine_is_the_net_normalised_by_the_scene_statistics():
    net = net_with([0.4, 0.5, 0.6], [0.2, 0.25, 0.3])
    ours = standardised(torch_engine(net, PLAN), SCENE).predict(batch())
    expected = torch_engine(twin(net, SCENE), PLAN).predict(batch())
    np.testing.assert_allclose(ours, expected, atol=2e-5)
    plain = torch_engine(net, PLAN)
    assert not np.allclose(plain.predict(batch()), expected, atol=1e-3)  # the check can fail
    same = standardised(plain, plain.statistics).predict(batch())
    np.testing.assert_allclose(same, plain.predict(batch()), atol=2e-5)


def test_each_member_of_an_ensemble_is_remapped_from_its_own_training_statistics():
    nets = [net_with([0.4, 0.5, 0.6], [0.2, 0.25, 0.3], 0), net_with([0.5] * 3, [0.1] * 3, 1)]
    ensemble = average([torch_engine(n, PLAN) for n in nets], ["a", "b"])
    ours = standardised(ensemble, SCENE)
    expected = average([torch_engine(twin(n, SCENE), PLAN) for n in nets], ["a", "b"])
    np.testing.assert_allclose(ours.predict(batch()), expected.predict(batch()), atol=2e-5)
    assert ours.description["ensemble"] == ["a", "b"]
    assert ours.description["normalization"]["by"] == "scene"


def test_statistics_leave_out_invalid_pixels_and_a_flat_band_is_not_divided_by_zero():
    image = np.zeros((3, 10, 10), np.uint8)
    image[:, :, 5:] = np.array([51, 102, 204], np.uint8)[:, None, None]
    image[0, 0, 5] = 255
    valid = np.zeros((10, 10), bool)
    valid[:, 5:] = True
    stats = channel_stats([image], [valid])
    pixels = image[:, valid].astype(float) / 255
    np.testing.assert_allclose(stats.mean, pixels.mean(axis=1))
    assert stats.std[0] == pytest.approx(pixels[0].std())
    assert stats.std[1] == stats.std[2] == pytest.approx(1e-3)
    with pytest.raises(InputError, match="no valid pixel"):
        channel_stats([image], [np.zeros((10, 10), bool)])


def test_scene_statistics_ignore_nodata(tmp_path):
    data = random_rgb(64, 64)
    data[:, :, :20] = 0
    scene = write_geotiff(tmp_path / "s.tif", data, nodata=0)
    stats = scene_statistics(scene)
    right = data[:, :, 20:].reshape(3, -1) / 255.0
    np.testing.assert_allclose(stats.mean, right.mean(axis=1), atol=1e-9)
    np.testing.assert_allclose(stats.std, right.std(axis=1), atol=1e-9)


def save(net: NormalizedNet, path):
    mean, std = net.mean.flatten().tolist(), net.std.flatten().tolist()
    return save_net(net, checkpoint_metadata("linknet", mean, std, 32), path)


def test_predict_with_scene_normalization_maps_as_a_model_of_the_scene_statistics(tmp_path):
    net = net_with([0.4, 0.5, 0.6], [0.2, 0.25, 0.3])
    data = random_rgb(80, 96, seed=3) // 2 + 60  # darker and flatter than the training tiles
    scene = write_geotiff(tmp_path / "s.tif", data)
    stats = scene_statistics(scene)
    ckpt, twin_ckpt = save(net, tmp_path / "m.ckpt"), save(twin(net, stats), tmp_path / "t.ckpt")
    common = [str(scene), "--tile", "32", *CPU]
    result = runner.invoke(app, ["predict", str(ckpt), *common, "--out", str(tmp_path / "a"),
                                 "--normalization", "own"])  # fmt: skip
    assert result.exit_code == 0, result.output
    runner.invoke(app, ["predict", str(twin_ckpt), *common, "--out", str(tmp_path / "b")])
    a, b = (
        PredictionOutputs.for_scene(scene, tmp_path / "a"),
        PredictionOutputs.for_scene(scene, tmp_path / "b"),
    )
    with rasterio.open(a.probability) as ours, rasterio.open(b.probability) as theirs:
        difference = np.abs(ours.read(1).astype(int) - theirs.read(1).astype(int))
    assert difference.max() <= 1
    recorded = json.loads(a.summary.read_text())["normalization"]
    assert recorded["by"] == "scene"
    np.testing.assert_allclose(recorded["mean"], stats.mean, atol=1e-4)


def test_evaluate_standardises_the_tiles_of_each_scene_by_their_own_statistics(tmp_path):
    dataset = tmp_path / "data"
    write_scenes_dataset(dataset, scenes=3, rows=2, cols=2, size=32)
    tiles = TileDataset(dataset, sorted(p.stem for p in (dataset / "images").iterdir()))
    net = net_with([0.4, 0.5, 0.6], [0.2, 0.25, 0.3])
    engines = tile_engines(torch_engine(net, PLAN), scenes_of_tiles(dataset, tiles), "none")
    assert len({id(e) for e in engines}) == 3
    first = [i for i, s in enumerate(tiles.stems) if s.startswith("scene1_")]
    stats = channel_stats([tiles.images[i] for i in first], [tiles.masks[i] < 255 for i in first])
    expected = torch_engine(twin(net, stats), PLAN).predict(tiles.images[first[0]][None])
    np.testing.assert_allclose(
        engines[first[0]].predict(tiles.images[first[0]][None]), expected, atol=2e-5
    )
    ckpt = save(net, tmp_path / "m.ckpt")
    out = tmp_path / "eval"
    args = ["evaluate", str(ckpt), str(dataset), "--out", str(out), "--normalization", "scene"]
    result = runner.invoke(app, [*args, "--panels", "0", *CPU])
    assert result.exit_code == 0, result.output
    # the former spelling `scene` is read as `own`
    assert json.loads(EvaluationFolder(out).metrics.read_text())["normalization"] == "own"
