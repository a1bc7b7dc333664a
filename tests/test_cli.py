import pytest
from typer.testing import CliRunner

from quakeslide.cli import app

runner = CliRunner()


def test_models_table_lists_ours_and_the_papers_counts():
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0
    assert "31.04 M" in result.output and "34.5 M" in result.output
    assert "11.53 M" in result.output and "13.4 M" in result.output
    assert "GMACs" in result.output


@pytest.mark.parametrize("content", [None, b"PK\x03\x04 truncated zip", b"not a checkpoint"])
def test_predict_with_a_bad_checkpoint_is_one_line_error(tmp_path, content):
    checkpoint = tmp_path / "model.ckpt"
    if content is not None:
        checkpoint.write_bytes(content)
    result = runner.invoke(app, ["predict", str(checkpoint), "scene.tif", "--out", str(tmp_path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and str(checkpoint) in lines[0]
    assert not list(tmp_path.glob("*.tif"))


def test_unknown_model_is_one_line_error(tmp_path):
    (tmp_path / "images").mkdir()
    result = runner.invoke(
        app, ["train", str(tmp_path), "--out", str(tmp_path / "run"), "--model", "resnet"]
    )
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert "resnet" in result.output and "linknet" in result.output
