"""Loss, optimiser, schedule and threshold options: their values, and bad ones refused early."""

import json
import math

import pytest
import torch
from conftest import write_tile_dataset
from rasters import random_rgb, write_geotiff
from typer.testing import CliRunner

from quakeslide.cli import app
from quakeslide.config import TrainConfig
from quakeslide.errors import InputError
from quakeslide.models.checkpoint import NormalizedNet, checkpoint_metadata, save_net
from quakeslide.training.optimizer import make_adam
from quakeslide.training.schedules import cosine_factor, make_schedule, step_factor

runner = CliRunner()


def one_error_line(result) -> str:
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and len(errors) == 1, result.output
    return errors[0]


def test_warmup_then_the_schedules_shape():
    assert [step_factor(e, 2, 3, 0.1) for e in range(5)] == pytest.approx(
        [1 / 3, 2 / 3, 1.0, 0.1, 0.1]
    )
    assert cosine_factor(0, 0, 10) == 1.0
    assert cosine_factor(5, 0, 10) == pytest.approx(0.5)
    assert cosine_factor(1, 1, 11) == 1.0  # first epoch after a one-epoch warm-up
    assert cosine_factor(6, 1, 11) == pytest.approx(0.5)


def schedule_lrs(name: str, epochs: int, steps: int, **kwargs) -> list[float]:
    """The learning rate of every optimiser step, stepping as Lightning does."""
    weight = torch.nn.Parameter(torch.zeros(3))
    optimizer = make_adam([weight], 1e-3, (0.9, 0.999))
    entry = make_schedule(optimizer, name, epochs, epochs * steps, **kwargs)
    rates = []
    for _ in range(epochs):
        for _ in range(steps):
            rates.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            if entry["interval"] == "step":
                entry["scheduler"].step()
        if entry["interval"] == "epoch":
            entry["scheduler"].step()
    return rates


def test_the_papers_schedule_is_torchs_steplr():
    rates = schedule_lrs("step", 4, 2, step_size=2, gamma=0.1)
    assert rates == pytest.approx([1e-3] * 4 + [1e-4] * 4)


def test_onecycle_rises_to_the_base_rate_then_falls_every_step():
    rates = schedule_lrs("onecycle", 4, 5, warmup_epochs=1)
    peak = max(range(len(rates)), key=rates.__getitem__)
    assert rates[peak] == pytest.approx(1e-3, rel=1e-3) and 4 <= peak <= 5
    assert rates[0] < 1e-4 and rates[-1] < 1e-5
    assert all(a > b for a, b in zip(rates[peak:], rates[peak + 1 :], strict=False))


def test_adamw_decays_the_weights_apart_from_the_gradient():
    weight = torch.nn.Parameter(torch.ones(4))
    optimizer = make_adam([weight], 0.1, (0.9, 0.999), weight_decay=0.5, decoupled=True)
    weight.grad = torch.zeros(4)
    optimizer.step()
    assert torch.allclose(weight.detach(), torch.full((4,), 1 - 0.1 * 0.5))


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("loss", "hinge", "hinge"),
        ("schedule", "linear", "schedule"),
        ("optimizer", "sgd", "optimizer"),
        ("warmup_epochs", 90, "warmup_epochs"),
        ("weight_decay", -1.0, "weight_decay"),
        ("first_copy", "mirrored", "first_copy"),
    ],
)
def test_bad_recipe_values_are_refused(option, value, message):
    with pytest.raises(InputError, match=message):
        TrainConfig.resolve(**{option: value})


def test_a_bad_option_stops_train_before_any_work(tmp_path):
    write_tile_dataset(tmp_path / "ds", rows=2, cols=2)
    result = runner.invoke(
        app, ["train", str(tmp_path / "ds"), "--out", str(tmp_path / "run"), "--loss", "l2"]
    )
    assert "l2" in one_error_line(result)
    assert not (tmp_path / "run").exists()


def save_checkpoint(path, threshold=None):
    torch.manual_seed(0)
    net = NormalizedNet("linknet", [0.5] * 3, [0.25] * 3)
    meta = checkpoint_metadata("linknet", [0.5] * 3, [0.25] * 3, 64, threshold=threshold)
    return save_net(net, meta, path)


def test_threshold_auto_needs_a_calibrated_checkpoint(tmp_path):
    scene = write_geotiff(tmp_path / "s.tif", random_rgb(96, 96))
    old = save_checkpoint(tmp_path / "old.ckpt")
    result = runner.invoke(
        app, ["predict", str(old), str(scene), "--out", str(tmp_path / "out"),
              "--threshold", "auto"],
    )  # fmt: skip
    assert "no calibrated threshold" in one_error_line(result)
    assert not (tmp_path / "out").exists()
    for bad in ("1.5", "high"):
        result = runner.invoke(
            app, ["predict", str(old), str(scene), "--out", str(tmp_path / "o"), "--threshold", bad]
        )
        assert "--threshold" in one_error_line(result)


def test_threshold_auto_uses_the_checkpoints_own(tmp_path):
    scene = write_geotiff(tmp_path / "s.tif", random_rgb(96, 96))
    calibrated = save_checkpoint(tmp_path / "new.ckpt", threshold=0.437)
    result = runner.invoke(
        app, ["predict", str(calibrated), str(scene), "--out", str(tmp_path / "out"),
              "--threshold", "auto", "--tile", "64", "--device", "cpu"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "s_summary.json").read_text())
    assert math.isclose(summary["threshold"], 0.437)
    write_tile_dataset(tmp_path / "ds", rows=2, cols=2)
    result = runner.invoke(
        app, ["evaluate", str(calibrated), str(tmp_path / "ds"), "--out", str(tmp_path / "ev"),
              "--threshold", "auto", "--panels", "0", "--device", "cpu"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert math.isclose(metrics["threshold"], 0.437)
