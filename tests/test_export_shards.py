"""ONNX export and predict --onnx; scenes shared among torchrun ranks; bad model files."""

import json

import numpy as np
import pytest
import rasterio
import torch
from rasters import random_rgb, write_geotiff
from typer.testing import CliRunner

from quakeslide.cli import app
from quakeslide.models.checkpoint import NormalizedNet, checkpoint_metadata, save_net

runner = CliRunner()


def save_checkpoint(path):
    torch.manual_seed(0)
    net = NormalizedNet("linknet", [0.5] * 3, [0.25] * 3)
    return save_net(net, checkpoint_metadata("linknet", [0.5] * 3, [0.25] * 3, 64), path)


def one_error_line(result) -> str:
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and len(errors) == 1, result.output
    return errors[0]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    checkpoint = save_checkpoint(folder / "model.ckpt")
    result = runner.invoke(app, ["export", str(checkpoint), "--out", str(folder / "m.onnx")])
    assert result.exit_code == 0, result.output
    return checkpoint, folder / "m.onnx", result.output


def test_export_matches_torch_on_random_input_of_any_size(exported):
    _, onnx_path, output = exported
    difference = float(output.split("= ")[1].split(" ")[0])
    assert onnx_path.exists() and difference < 1e-3


@pytest.mark.parametrize("tta", ["none", "d4"])
def test_predict_with_onnx_equals_predict_with_torch(exported, tmp_path, tta):
    checkpoint, onnx_path, _ = exported
    scene = write_geotiff(tmp_path / "s.tif", random_rgb(150, 210, seed=3))
    options = ["--tile", "64", "--device", "cpu", "--precision", "32-true", "--tta", tta]
    by_torch = runner.invoke(
        app, ["predict", str(checkpoint), str(scene), "--out", str(tmp_path / "t"), *options]
    )
    by_onnx = runner.invoke(
        app, ["predict", str(scene), "--onnx", str(onnx_path), "--out", str(tmp_path / "o"),
              "--tile", "64", "--tta", tta]
    )  # fmt: skip
    assert by_torch.exit_code == 0 and by_onnx.exit_code == 0, by_onnx.output
    with (
        rasterio.open(tmp_path / "t" / "s_prob.tif") as a,
        rasterio.open(tmp_path / "o" / "s_prob.tif") as b,
    ):
        assert np.abs(a.read(1).astype(int) - b.read(1).astype(int)).max() <= 1
    summary = json.loads((tmp_path / "o" / "s_summary.json").read_text())
    assert summary["engine"] == "onnxruntime" and summary.get("tta", "none") == tta


def test_each_torchrun_rank_maps_its_own_scenes(exported, tmp_path, monkeypatch):
    checkpoint, _, _ = exported
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    for name in "abc":
        write_geotiff(scenes / f"{name}.tif", random_rgb(70, 70, seed=ord(name)))
    mapped = []
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        out = tmp_path / f"out{rank}"
        result = runner.invoke(
            app, ["predict", str(checkpoint), str(scenes), "--out", str(out), "--tile", "64"]
        )
        assert result.exit_code == 0, result.output
        mapped.append(sorted(p.name[0] for p in out.glob("*_mask.tif")))
    assert mapped == [["a", "c"], ["b"]]


def test_bad_model_files_and_output_folders(exported, tmp_path):
    checkpoint, onnx_path, _ = exported
    scene = write_geotiff(tmp_path / "s.tif", random_rgb(70, 70))
    truncated = tmp_path / "cut.ckpt"
    truncated.write_bytes(checkpoint.read_bytes()[:5000])
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}}, foreign)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    cases = [
        (["predict", str(truncated), str(scene), "--out", str(tmp_path / "o1")], "not a readable"),
        (["predict", str(foreign), str(scene), "--out", str(tmp_path / "o2")], "not a quakeslide"),
        (["predict", str(scene), "--onnx", str(checkpoint), "--out", str(tmp_path / "o3")],
         "not a readable ONNX"),
        (["predict", str(checkpoint), str(scene), "--out", str(blocker / "sub")],
         "cannot write outputs"),
        (["export", str(truncated), "--out", str(tmp_path / "x.onnx")], "not a readable"),
    ]  # fmt: skip
    for args, message in cases:
        assert message in one_error_line(runner.invoke(app, args))
    for name in ("o1", "o2", "o3"):
        assert not (tmp_path / name).exists()
    assert not (tmp_path / "x.onnx").exists()
