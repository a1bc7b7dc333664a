"""The shipped recipes: valid, within their budgets, and usable from a fresh clone."""

from pathlib import Path

import pytest
import yaml
from conftest import write_tile_dataset
from typer.testing import CliRunner

from quakeslide.cli import app
from quakeslide.config import TrainConfig

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
JIUZHAIGOU_TRAIN_TILES = 926
QUICK_BUDGET = 15_000  # tile presentations: epochs x augment x tiles


@pytest.mark.parametrize("name", ["quick.yaml", "full.yaml", "finetune.yaml"])
def test_recipes_are_valid_configs_with_their_flags_written(name):
    path = CONFIGS / name
    config = TrainConfig.resolve(path)
    text = path.read_text()
    assert "predict" in text and "evaluate" in text  # the flags that go with it, in a comment
    assert set(yaml.safe_load(text)) <= set(TrainConfig.model_fields)
    assert config.model == "linknet"


def test_the_finetune_recipe_takes_its_architecture_from_the_parent(tmp_path):
    """No `model` in the recipe: a U-Net parent is fine-tuned as a U-Net, not refused."""
    from quakeslide.models.checkpoint import NormalizedNet, checkpoint_metadata, save_net

    assert "model" not in yaml.safe_load((CONFIGS / "finetune.yaml").read_text())
    write_tile_dataset(tmp_path / "ds", rows=2, cols=3, size=32)
    stats = ([0.5] * 3, [0.25] * 3)
    net, meta = NormalizedNet("unet", *stats), checkpoint_metadata("unet", *stats, 32)
    parent = save_net(net, meta, tmp_path / "p.ckpt")
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        ["train", str(tmp_path / "ds"), "--out", str(out), "--init", str(parent), "--config",
         str(CONFIGS / "finetune.yaml"), "--epochs", "1", "--augment", "1", "--precision",
         "32-true", "--accelerator", "cpu"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    saved = TrainConfig.resolve(out / "config.yaml")
    assert (saved.model, saved.loss, saved.init) == ("unet", "ce+dice", str(parent))


def test_the_quick_recipe_fits_its_budget():
    config = TrainConfig.resolve(CONFIGS / "quick.yaml")
    assert config.epochs * config.augment * JIUZHAIGOU_TRAIN_TILES <= QUICK_BUDGET


def test_train_with_the_quick_recipe(tmp_path):
    write_tile_dataset(tmp_path / "ds", rows=2, cols=3, size=32)
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        ["train", str(tmp_path / "ds"), "--out", str(out), "--config", str(CONFIGS / "quick.yaml"),
         "--epochs", "2", "--precision", "32-true", "--accelerator", "cpu"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    saved = TrainConfig.resolve(out / "config.yaml")
    quick = TrainConfig.resolve(CONFIGS / "quick.yaml")
    assert (saved.loss, saved.schedule, saved.optimizer) == (
        quick.loss,
        quick.schedule,
        quick.optimizer,
    )
