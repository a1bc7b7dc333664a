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


@pytest.fixture(scope="module")
def deepness_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("deepness")
    torch.manual_seed(0)
    net = NormalizedNet("linknet", [0.4, 0.5, 0.6], [0.2, 0.25, 0.3])
    meta = checkpoint_metadata(
        "linknet", [0.4, 0.5, 0.6], [0.2, 0.25, 0.3], 64, threshold=0.42, pixel_size_m=0.61
    )
    checkpoint = save_net(net, meta, folder / "model.ckpt")
    out = folder / "deepness.onnx"
    result = runner.invoke(app, ["export", str(checkpoint), "--out", str(out), "--deepness"])
    assert result.exit_code == 0, result.output
    return checkpoint, out


def test_deepness_export_loads_and_runs_as_deepness_feeds_it(deepness_model):
    import onnx
    import onnxruntime as ort

    from quakeslide.models.checkpoint import load_net

    checkpoint, path = deepness_model
    model = onnx.load(str(path))
    assert model.ir_version <= 9  # what onnxruntime <= 1.17 loads
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) <= 20
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    # static, square, predict's window (not the training tile: Deepness pastes tiles
    # without blending, so it needs predict's context to draw predict's map)
    assert inp.shape == [1, 3, 256, 256] and out.shape == [1, 2, 256, 256]
    # as Deepness does: a uint8 NHWC tile / 255, transposed to NCHW
    tile = np.random.default_rng(0).integers(0, 256, (1, 256, 256, 3), dtype=np.uint8)
    image = (tile / 255.0).astype(np.float32).transpose(0, 3, 1, 2)
    probability = session.run(None, {inp.name: image})[0]
    np.testing.assert_allclose(probability.sum(axis=1), 1.0, atol=1e-5)
    net, _ = load_net(checkpoint)
    with torch.inference_mode():
        expected = torch.softmax(net(torch.from_numpy(image)), dim=1).numpy()
    np.testing.assert_allclose(probability, expected, atol=1e-4)
    meta = {k: json.loads(v) for k, v in session.get_modelmeta().custom_metadata_map.items()}
    assert meta["model_type"] == "Segmentor"
    assert meta["class_names"] == {"0": "background", "1": "landslide"}
    assert meta["tile_size"] == meta["tiles_size"] == 256 and meta["tiles_overlap"] == 25
    # predict's default threshold, not the calibrated 0.42: Deepness draws predict's map;
    # no filter of small areas, which predict does not apply either
    assert meta["seg_thresh"] == 0.5 and meta["seg_small_segment"] == 0
    assert meta["resolution"] == pytest.approx(61.0)  # cm per pixel, from the checkpoint


def test_deepness_tile_and_resolution_options(deepness_model, tmp_path):
    import onnxruntime as ort

    checkpoint, _ = deepness_model
    out = tmp_path / "d128.onnx"
    args = ["export", str(checkpoint), "--out", str(out), "--deepness", "--tile", "128"]
    result = runner.invoke(app, [*args, "--resolution", "50"])
    assert result.exit_code == 0, result.output
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == [1, 3, 128, 128]
    assert json.loads(session.get_modelmeta().custom_metadata_map["resolution"]) == 50


BAD_EXPORT = [(["--opset", "0"], "--opset 0"), (["--deepness", "--tile", "8"], "'--tile': 8")]


@pytest.mark.parametrize("args,message", BAD_EXPORT)
def test_bad_export_options_give_one_line(tmp_path, args, message):
    checkpoint = save_checkpoint(tmp_path / "model.ckpt")
    out = tmp_path / "m.onnx"
    result = runner.invoke(app, ["export", str(checkpoint), "--out", str(out), *args])
    assert message in one_error_line(result) and not out.exists()
