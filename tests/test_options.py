"""Stage options: one object per stage, the command-line options made from its fields, the
same bounds in every command, the same checks for a Python caller."""

import re

import pytest
from typer.testing import CliRunner

from quakeslide.cli import app
from quakeslide.cli_options import YAML_ONLY
from quakeslide.config import TrainConfig
from quakeslide.errors import InputError
from quakeslide.folders import RunFolder
from quakeslide.options import (
    BenchOptions,
    CvOptions,
    EvaluateOptions,
    ExportOptions,
    InventoryOptions,
    PredictOptions,
    PseudoLabelOptions,
    StageOptions,
    StudyOptions,
    TileOptions,
)
from quakeslide.training.fit import run_config

runner = CliRunner()
COMMANDS = {
    "predict": PredictOptions,
    "evaluate": EvaluateOptions,
    "pseudo-label": PseudoLabelOptions,
    "tile": TileOptions,
    "cv": CvOptions,
    "study": StudyOptions,
    "export": ExportOptions,
    "bench": BenchOptions,
    "inventory": InventoryOptions,
    "train": TrainConfig,
}


def help_text(command: str) -> str:
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())


@pytest.mark.parametrize("command", COMMANDS)
def test_every_field_is_an_option_with_the_fields_help_and_default(command):
    shown = help_text(command)
    for name, field in COMMANDS[command].model_fields.items():
        if name in YAML_ONLY:
            continue
        flag = "--" + name.replace("_", "-")
        assert flag in shown, flag
        assert " ".join(field.description.split()[:4]) in shown, (flag, field.description)
        default = field.default
        if isinstance(default, list):
            default = ",".join(map(str, default))
        if default not in (None, ...) and not field.is_required():
            assert f"(default {default})" in shown, flag


@pytest.mark.parametrize("options", [PredictOptions, EvaluateOptions])
@pytest.mark.parametrize("value", [0, 1, 1.5, -0.1])
def test_a_threshold_has_the_same_bounds_everywhere(options, value):
    with pytest.raises(InputError, match="threshold"):
        options.resolve(threshold=value)
    assert options.resolve(threshold="auto").threshold is None
    assert options.resolve(threshold=0.999).threshold == 0.999


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_threshold_1_is_refused_by_predict_and_evaluate_alike(tmp_path, command):
    args = [command, "m.ckpt", str(tmp_path), "--out", str(tmp_path / "o"), "--threshold", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "--threshold 1: input should be less than 1" in result.output


def test_normalization_is_checkpoint_or_own_and_the_former_spellings_are_read():
    assert TrainConfig(normalization="dataset", init="p.ckpt").normalization == "own"
    assert PredictOptions(normalization="scene").normalization == "own"
    assert EvaluateOptions(normalization="scene").normalization == "own"
    with pytest.raises(InputError, match="normalization: input should be 'checkpoint' or 'own'"):
        PredictOptions.resolve(normalization="dataset")


def test_checks_across_fields_reach_a_python_caller_as_one_line():
    with pytest.raises(InputError, match=r"^bad pseudo-label options: low 0.9 / high 0.1"):
        PseudoLabelOptions.resolve(split="u", low=0.9, high=0.1)
    with pytest.raises(InputError, match="mask_color: expected R,G,B with values 0-255"):
        TileOptions.resolve(mask_color="300,0,0")
    assert TileOptions.resolve(label_names="a,b", bands="3,2,1").label_names == {"a", "b"}


def test_an_error_names_fields_for_python_callers_and_options_on_the_command_line(tmp_path):
    with pytest.raises(InputError, match="size_unit scenes needs grouping scenes, not blocks"):
        StudyOptions.resolve(size_unit="scenes", grouping="blocks")
    assert StudyOptions.resolve(size_unit="scenes").grouping == "scenes"
    with pytest.raises(InputError, match="tile apply to the deepness export only"):
        ExportOptions.resolve(tile=64)
    args = ["export", "m.ckpt", "--out", str(tmp_path / "m.onnx"), "--resolution", "50"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "--resolution apply to the --deepness export only" in result.output


def test_study_models_and_sizes_are_read_from_text_and_checked():
    options = StudyOptions.resolve(models="LinkNet,unet,linknet", sizes="10,20")
    assert (options.models, options.sizes) == (["linknet", "unet"], [10, 20])
    with pytest.raises(InputError, match="models: unknown model 'resnet'"):
        StudyOptions.resolve(models="linknet,resnet")
    with pytest.raises(InputError, match="sizes.0: input should be greater than or equal to 1"):
        StudyOptions.resolve(sizes="0,5")


def test_every_stage_options_refuse_unknown_names():
    for options in COMMANDS.values():
        assert issubclass(options, StageOptions)
        with pytest.raises(InputError, match="no_such: extra inputs are not permitted"):
            options.resolve(no_such=1, split="u")


def test_a_resumed_run_takes_its_own_config_as_the_base(tmp_path):
    run = RunFolder(tmp_path / "run")
    run.root.mkdir()
    run.config.write_text(TrainConfig(epochs=7, lr=0.01).to_yaml())
    resumed = run_config(run.root, resume=True, epochs=9)
    assert (resumed.epochs, resumed.lr) == (9, 0.01)  # the option given wins over the saved
    assert run_config(run.root, resume=False).lr == TrainConfig().lr  # a new run: defaults
