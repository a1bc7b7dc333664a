"""Training runs: resume gives the same weights, same seed gives the same metrics, bad input."""

import json
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from conftest import TINY, Crash, CrashAtEpoch, metric_rows, weights, write_tile_dataset
from typer.testing import CliRunner

from quakeslide.cli import app
from quakeslide.config import TrainConfig
from quakeslide.data.dataset import TileDataset
from quakeslide.device import plan_compute
from quakeslide.errors import InputError
from quakeslide.evaluation.evaluate import evaluate_model
from quakeslide.inference.engines import torch_engine
from quakeslide.models.checkpoint import CHECKPOINT_KEY, load_net
from quakeslide.training.fit import choose_split, train

SUMMARY_KEYS = {"model", "parameters", "best", "final", "wall_seconds", "device", "precision"}


@pytest.fixture(scope="module")
def tiles16(tmp_path_factory) -> Path:
    """A 4 x 4 grid of 32 px tiles (no split lists: runs cut their own 20 % for validation)."""
    root = tmp_path_factory.mktemp("tiles")
    write_tile_dataset(root, rows=4, cols=4, size=32)
    return root


class EpochRecorder(L.Callback):
    """Which epochs this fit trained, and the epoch its sampler was told."""

    def __init__(self):
        self.epochs: list[tuple[int, int]] = []

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if batch_idx == 0:
            sampler = trainer.train_dataloader.sampler
            self.epochs.append((trainer.current_epoch, sampler.epoch))


class FlatF1(L.Callback):
    """Validation F1 that never improves after the first epoch (runs before the checkpoints)."""

    def on_validation_end(self, trainer, module):
        trainer.callback_metrics["val_f1"] = torch.tensor(0.5)


class LastCheckpointLag(L.Callback):
    """Optimiser steps that last.ckpt lacks as each epoch begins: what a kill would lose."""

    def __init__(self, path: Path):
        self.path = path
        self.lags: list[int] = []

    def on_train_epoch_start(self, trainer, module):
        if trainer.current_epoch:
            saved = torch.load(self.path, map_location="cpu", weights_only=True)["global_step"]
            self.lags.append(trainer.global_step - saved)


def test_last_checkpoint_holds_every_epoch_even_when_best_does_not_improve(tiles16, tmp_path):
    lag = LastCheckpointLag(tmp_path / "run" / "checkpoints" / "last.ckpt")
    train(tiles16, tmp_path / "run", TrainConfig(**TINY), callbacks=[FlatF1(), lag])
    assert lag.lags == [0, 0]
    best = torch.load(tmp_path / "run" / "checkpoints" / "best.ckpt", weights_only=True)
    assert best["epoch"] == 0  # F1 stayed flat: best.ckpt is the first epoch's


RECIPES = {
    "paper": {},
    "step+warmup": {"warmup_epochs": 1, "loss": "ce+dice"},
    "cosine": {"schedule": "cosine", "warmup_epochs": 1, "optimizer": "adamw",
               "weight_decay": 0.01, "loss": "focal"},
    "onecycle": {"schedule": "onecycle", "loss": "lovasz"},
    "ema+dihedral": {"ema": 0.9, "first_copy": "dihedral"},
}  # fmt: skip


@pytest.mark.parametrize("recipe", RECIPES.values(), ids=RECIPES.keys())
def test_a_resumed_run_ends_like_an_uninterrupted_one(tiles16, tmp_path, recipe):
    config = TrainConfig(**(TINY | recipe))
    whole = train(tiles16, tmp_path / "whole", config)
    with pytest.raises(Crash):
        train(tiles16, tmp_path / "stopped", config, callbacks=[CrashAtEpoch(1)])
    assert len(metric_rows(tmp_path / "stopped")) == 1
    assert not (tmp_path / "stopped" / "summary.json").exists()
    recorder = EpochRecorder()
    resumed = train(tiles16, tmp_path / "stopped", config, resume=True, callbacks=[recorder])
    assert recorder.epochs == [(1, 1), (2, 2)], "the resumed fit did not start at epoch 1"
    assert metric_rows(tmp_path / "stopped") == metric_rows(tmp_path / "whole")
    a = weights(whole.run / "checkpoints" / "last.ckpt")
    b = weights(resumed.run / "checkpoints" / "last.ckpt")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.summary.best == whole.summary.best
    assert resumed.summary.finished and resumed.summary.epochs == 3


def test_same_seed_same_metrics_other_seed_other_metrics(tiles16, tmp_path):
    config = TrainConfig(**(TINY | {"epochs": 2}))
    first = train(tiles16, tmp_path / "a", config)
    second = train(tiles16, tmp_path / "b", config)
    assert metric_rows(first.run) == metric_rows(second.run)
    other = train(tiles16, tmp_path / "c", TrainConfig(**(TINY | {"epochs": 2, "seed": 1})))
    assert metric_rows(other.run) != metric_rows(first.run)


def test_run_folder_contents(tiles16, tmp_path, caplog):
    with caplog.at_level("INFO", logger="quakeslide.training.epoch_log"):
        result = train(tiles16, tmp_path / "run", TrainConfig(**(TINY | {"epochs": 1})))
    run = result.run
    (row,) = metric_rows(run)
    # a line per epoch for a log file, with the numbers metrics.csv holds
    assert f"epoch 1/1: loss {float(row['loss']):.4f}, val F1 {float(row['val_f1']):.4f}" in (
        caplog.text
    )
    assert {p.name for p in (run / "checkpoints").iterdir()} == {"best.ckpt", "last.ckpt"}
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["augment"] == 2 and saved["crop"] == 24 and saved["lr"] == 1e-3
    summary = json.loads((run / "summary.json").read_text())
    assert summary["train_tiles"] + summary["val_tiles"] == 16
    assert 0 <= summary["best"]["f1"] <= 1
    assert summary["finished"] and summary["epochs"] == 1
    assert summary.keys() >= SUMMARY_KEYS
    net, meta = load_net(run / "checkpoints" / "best.ckpt")
    assert meta["model"] == "linknet" and len(meta["mean"]) == 3
    assert net(torch.rand(1, 3, 32, 32)).shape == (1, 2, 32, 32)
    with pytest.raises(InputError, match="holds a run already"):
        train(tiles16, run, TrainConfig(**(TINY | {"epochs": 1})))
    with pytest.raises(InputError, match="other settings .*lr"):
        train(tiles16, run, TrainConfig(**(TINY | {"epochs": 2, "lr": 0.01})), resume=True)


def test_training_records_the_f1_best_validation_threshold(tiles16, tmp_path):
    """best.ckpt and summary.json carry the threshold of the same sweep evaluate runs."""
    result = train(tiles16, tmp_path / "run", TrainConfig(**(TINY | {"epochs": 2})))
    best = result.summary.best
    assert 0.0 < best.threshold < 1.0
    meta = torch.load(result.best_checkpoint, weights_only=True)[CHECKPOINT_KEY]
    assert meta["threshold"] == pytest.approx(best.threshold)
    rows = metric_rows(result.run)
    assert float(rows[best.epoch]["val_threshold"]) == pytest.approx(best.threshold)
    plan = plan_compute("cpu", "32-true")
    net, _ = load_net(result.best_checkpoint)
    val = TileDataset(tiles16, choose_split(tiles16, TrainConfig(**TINY)).val)
    evaluation, _ = evaluate_model(torch_engine(net, plan), val)
    # the same tiles scored by evaluate: the same F1-best threshold
    assert evaluation.sweep.best()["threshold"] == pytest.approx(best.threshold, abs=1e-3)


def test_ema_validates_and_saves_the_averaged_weights(tiles16, tmp_path):
    """With --ema, validation scores the average, best.ckpt ships it, and the weights as
    trained ride along for a resume."""
    result = train(tiles16, tmp_path / "run", TrainConfig(**(TINY | {"ema": 0.9})))
    saved = torch.load(result.best_checkpoint, map_location="cpu", weights_only=True)
    averaged, trained = saved["state_dict"], saved["current_model_state"]
    assert averaged.keys() == trained.keys()
    assert any(not torch.equal(averaged[k], trained[k]) for k in averaged)
    net, _ = load_net(result.best_checkpoint)
    val = TileDataset(tiles16, choose_split(tiles16, TrainConfig(**TINY)).val)
    evaluation, _ = evaluate_model(torch_engine(net, plan_compute("cpu", "32-true")), val)
    assert evaluation.micro.f1 == pytest.approx(result.summary.best.f1, abs=1e-4)
    assert result.summary.ema == 0.9


def test_masks_without_any_landslide_are_refused(tmp_path):
    write_tile_dataset(tmp_path, rows=2, cols=2, size=16, landslides=False)
    with pytest.raises(InputError, match="no landslide pixel"):
        train(tmp_path, tmp_path / "run", TrainConfig(**TINY))
    assert not (tmp_path / "run").exists()


def test_empty_dataset_is_refused(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    with pytest.raises(InputError, match="no image with a matching mask"):
        train(tmp_path, tmp_path / "run", TrainConfig(**TINY))


def test_cli_options_override_the_config_file(tiles16, tmp_path):
    config = tmp_path / "options.yaml"
    config.write_text(yaml.safe_dump(TINY | {"epochs": 5, "lr": 0.002}))
    run = tmp_path / "run"
    result = CliRunner().invoke(
        app, ["train", str(tiles16), "--out", str(run), "--config", str(config), "--epochs", "1"]
    )
    assert result.exit_code == 0, result.output
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["epochs"] == 1 and saved["lr"] == 0.002 and saved["crop"] == 24
    assert "best epoch 0: F1" in result.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("epochs: 3\nlearning_rate: 0.1\n", "learning_rate: extra inputs are not permitted"),
        ("epochs: many\n", "epochs: input should be a valid integer"),
        ("batch_size: 0\n", "batch_size: input should be greater than or equal to 1"),
        ("model: segformer\n", "unknown model 'segformer'"),
        ("- 1\n- 2\n", "must be a mapping"),
        ("epochs: [1\n", "not valid YAML"),
    ],
)
def test_bad_config_files_fail_before_training(tiles16, tmp_path, text, message):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    run = tmp_path / "run"
    result = CliRunner().invoke(
        app, ["train", str(tiles16), "--out", str(run), "--config", str(config)]
    )
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert not run.exists()
