"""Bad option values: one `error:` line naming the option, exit 2, before any work."""

import numpy as np
import pytest
from rasters import write_geotiff
from typer.testing import CliRunner

from quakeslide.cli import app
from quakeslide.models.checkpoint import NormalizedNet, checkpoint_metadata, save_net

runner = CliRunner()

# (command and options with placeholders, the text the one error line must hold)
CASES = [
    ("predict CKPT SCENE --out OUT --threshold 1.5", "--threshold 1.5"),
    ("predict CKPT SCENE --out OUT --threshold -1", "--threshold -1"),
    ("predict CKPT SCENE --out OUT --batch-size 0", "'--batch-size'"),
    ("predict CKPT SCENE --out OUT --min-area -1", "'--min-area'"),
    ("predict CKPT SCENE --out OUT --pixel-size 0", "'--pixel-size'"),
    ("predict CKPT SCENE --out OUT --pixel-size -0.5", "'--pixel-size'"),
    ("predict CKPT SCENE --out OUT --tta rot", "--tta 'rot'"),
    ("predict CKPT SCENE --out OUT --normalization dataset", "--normalization 'dataset'"),
    ("evaluate CKPT DATA --out OUT --normalization tiles", "--normalization 'tiles'"),
    ("study DATA --out OUT --size-unit images", "--size-unit 'images'"),
    ("study DATA --out OUT --models foo", "unknown model 'foo'"),
    ("study DATA --out OUT --size-unit scenes --grouping blocks", "needs --grouping scenes"),
    ("tile SCENE --labels SCENE --out OUT --size 0", "'--size'"),
    ("tile SCENE --labels SCENE --out OUT --size -5", "'--size'"),
    ("tile SCENE --labels SCENE --out OUT --stride -64", "'--stride'"),
    ("tile SCENE --labels SCENE --out OUT --stride 0", "'--stride'"),
    ("tile SCENE --labels SCENE --out OUT --keep-empty -1", "'--keep-empty'"),
    ("evaluate CKPT DATA --out OUT --max-tiles -2", "'--max-tiles'"),
    ("evaluate CKPT DATA --out OUT --panels -1", "'--panels'"),
    ("evaluate CKPT DATA --out OUT --pixel-size -1", "'--pixel-size'"),
    ("export CKPT --out OUT --opset 0", "--opset 0"),
    ("predict CKPT SCENE --out OUT --no-such-option", "No such option"),
    ("export CKPT --out CKPT", "is the input"),
    ("train DATA --out DATA", "is the input"),
    ("cv DATA --out DATA/images/cv", "inside the input folder"),
    ("evaluate CKPT DATA --out DATA/masks", "inside the input folder"),
    ("evaluate CKPT DATA --out CKPT", "is the input"),
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    net = NormalizedNet("linknet", [0.5] * 3, [0.25] * 3)
    checkpoint = save_net(
        net, checkpoint_metadata("linknet", [0.5] * 3, [0.25] * 3, 64), folder / "m.ckpt"
    )
    scene = write_geotiff(folder / "s.tif", np.zeros((3, 40, 40), np.uint8))
    (folder / "data" / "images").mkdir(parents=True)
    (folder / "data" / "masks").mkdir()
    return {"CKPT": checkpoint, "SCENE": scene, "DATA": folder / "data"}


def expand(word: str, places: dict) -> str:
    """A placeholder (CKPT, DATA/masks, ...) as its path; other words as they are."""
    head, _, rest = word.partition("/")
    if head not in places:
        return word
    return str(places[head] / rest) if rest else str(places[head])


@pytest.mark.parametrize("command,message", CASES, ids=[c for c, _ in CASES])
def test_a_bad_option_value_gets_one_line(inputs, tmp_path, command, message):
    out = tmp_path / "out"
    places = {**inputs, "OUT": out}
    args = [expand(word, places) for word in command.split()]
    before = {p: p.read_bytes() for p in (inputs["CKPT"], inputs["SCENE"])}
    result = runner.invoke(app, args)
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and len(errors) == 1, result.output
    assert message in errors[0] and "Traceback" not in result.output
    assert not out.exists()  # nothing written
    assert all(p.read_bytes() == data for p, data in before.items())  # inputs unchanged


def test_export_into_a_folder_gets_one_line(inputs, tmp_path):
    result = runner.invoke(app, ["export", str(inputs["CKPT"]), "--out", str(tmp_path)])
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and len(errors) == 1 and "is a folder" in errors[0]
    assert list(tmp_path.iterdir()) == []


def one_error(result) -> str:
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and len(errors) == 1, result.output
    assert "Traceback" not in result.output
    return errors[0]


def test_report_of_a_broken_prediction_summary_names_the_file(tmp_path):
    folder = tmp_path / "pred"
    folder.mkdir()
    (folder / "a_summary.json").write_text("{not json")
    result = runner.invoke(app, ["report", str(folder), "--out", str(tmp_path / "r.html")])
    assert "a_summary.json: not a readable result file" in one_error(result)
    assert not (tmp_path / "r.html").exists()


def test_report_of_a_prediction_summary_missing_a_key_names_the_file_and_key(tmp_path):
    folder = tmp_path / "pred"
    folder.mkdir()
    (folder / "a_summary.json").write_text('{"scene": "a.tif", "area_unit": "px"}')
    result = runner.invoke(app, ["report", str(folder), "--out", str(tmp_path / "r.html")])
    error = one_error(result)
    assert "a_summary.json: broken, or not written by quakeslide" in error
    assert "count: field required" in error


def test_report_of_metrics_missing_keys_names_the_file_and_key(tmp_path):
    folder = tmp_path / "eval"
    folder.mkdir()
    (folder / "metrics.json").write_text('{"tiles": 3}')
    (folder / "per_tile.csv").write_text("stem,f1\na,0.5\n")
    result = runner.invoke(app, ["report", str(folder), "--out", str(tmp_path / "r.html")])
    error = one_error(result)
    assert "metrics.json: broken, or not written by quakeslide" in error
    assert "checkpoint: field required" in error


@pytest.mark.parametrize("user_file", ["README.md", "README.html"])
def test_report_never_replaces_a_file_it_did_not_write(tmp_path, user_file):
    folder = tmp_path / "pred"
    folder.mkdir()
    (folder / "a_summary.json").write_text("{not json")
    mine = tmp_path / user_file
    mine.write_text("# my notes\n")
    result = runner.invoke(app, ["report", str(folder), "--out", str(tmp_path / "README.html")])
    assert f"{mine}: exists and report did not write it" in one_error(result)
    assert mine.read_text() == "# my notes\n" and len(list(tmp_path.iterdir())) == 2


def test_the_markdown_twin_escapes_names_as_the_html_does(tmp_path):
    from quakeslide.reporting.render import render_html, render_markdown
    from quakeslide.reporting.report_model import Report, Section, Table

    name = "<img src=x onerror=alert(1)>"
    report = Report(
        f"Run {name}", tmp_path, [Section(name, [name], [Table(name, ["a"], [[name]])])]
    )
    html, markdown = render_html(report), render_markdown(report, tmp_path / "r.md")
    assert "<img" not in html and "<img" not in markdown
    assert markdown.count("&lt;img") == 5  # title, section, text, caption, cell


class Evil:
    """Pickles to a call; torch.load(weights_only=True) must refuse to make it."""

    def __reduce__(self):
        return (print, ("this should never run",))


def lying_checkpoint(path, kind):
    import torch

    net = NormalizedNet("linknet", [0.5] * 3, [0.25] * 3)
    meta = checkpoint_metadata("linknet", [0.5] * 3, [0.25] * 3, 32)
    if kind == "unet_meta_over_linknet_weights":
        meta["model"] = "unet"
    if kind == "empty_state_dict":
        torch.save({"state_dict": {}, "quakeslide": meta}, path)
        return path
    if kind == "no_model_name":
        del meta["model"]
    return save_net(net, meta, path)


LIES = ["unet_meta_over_linknet_weights", "empty_state_dict", "no_model_name"]
COMMANDS = {
    "predict": "predict CKPT SCENE --out OUT",
    "evaluate": "evaluate CKPT TILES --out OUT",
    "export": "export CKPT --out OUT",
    "train": "train TILES --out OUT --init CKPT --epochs 1",
}


@pytest.fixture(scope="module")
def tiles(tmp_path_factory):
    from conftest import write_tile_dataset

    root = tmp_path_factory.mktemp("tiles")
    write_tile_dataset(root, rows=2, cols=2, size=32)
    return root


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("kind", LIES)
def test_a_lying_checkpoint_gets_one_line(inputs, tiles, tmp_path, kind, command):
    checkpoint = lying_checkpoint(tmp_path / "lie.ckpt", kind)
    out = tmp_path / "out"
    places = {**inputs, "CKPT": checkpoint, "TILES": tiles, "OUT": out}
    args = [str(places.get(word, word)) for word in COMMANDS[command].split()]
    assert "lie.ckpt" in one_error(runner.invoke(app, args))
    assert not out.exists()


@pytest.mark.parametrize("kind", ["zero_bytes", "malicious_pickle"])
def test_resume_from_a_broken_last_checkpoint_gets_one_line(tiles, tmp_path, kind, capsys):
    import torch

    out = tmp_path / "run"
    args = ["train", str(tiles), "--out", str(out), "--epochs", "1", "--augment", "1",
            "--precision", "32-true", "--accelerator", "cpu"]  # fmt: skip
    assert runner.invoke(app, args).exit_code == 0
    last = out / "checkpoints" / "last.ckpt"
    if kind == "zero_bytes":
        last.write_bytes(b"")
    else:
        torch.save({"state_dict": {}, "x": Evil()}, last)
    result = runner.invoke(app, [*args[:5], "2", *args[6:], "--resume"])
    assert "last.ckpt: cannot resume from it" in one_error(result)
    assert "this should never run" not in result.output + capsys.readouterr().out


def break_a_tile(root, kind):
    """One tile of a fresh dataset broken the way users' tiles break."""
    from PIL import Image

    image = next(iter(sorted((root / "images").glob("*.png"))))
    mask = root / "masks" / image.name
    if kind == "truncated_image":
        image.write_bytes(image.read_bytes()[:200])
    elif kind == "zero_byte_image":
        image.write_bytes(b"")
    elif kind == "mask_of_another_size":
        Image.fromarray(np.zeros((20, 32), np.uint8)).save(mask)
    return image, mask


@pytest.mark.parametrize("kind", ["truncated_image", "zero_byte_image", "mask_of_another_size"])
@pytest.mark.parametrize("command", ["train", "evaluate", "cv"])
def test_a_broken_tile_is_named_before_any_work(inputs, tmp_path, kind, command):
    from conftest import write_tile_dataset

    root = tmp_path / "ds"
    write_tile_dataset(root, rows=2, cols=3, size=32)
    image, mask = break_a_tile(root, kind)
    out = tmp_path / "out"
    args = {
        "train": ["train", str(root), "--out", str(out), "--epochs", "1"],
        "evaluate": ["evaluate", str(inputs["CKPT"]), str(root), "--out", str(out)],
        "cv": ["cv", str(root), "--out", str(out), "--folds", "2", "--epochs", "1"],
    }[command]
    line = one_error(runner.invoke(app, args))
    assert (mask.name if kind == "mask_of_another_size" else image.name) in line
    # no run folder with a config.yaml / metrics.csv from a run that never started
    assert not out.exists() or not [*out.rglob("config.yaml"), *out.rglob("metrics.csv")]


def test_an_rgba_tile_among_rgb_ones_has_its_alpha_dropped(tmp_path):
    from conftest import write_tile_dataset
    from PIL import Image

    from quakeslide.data.dataset import TileDataset

    root = tmp_path / "ds"
    stems = write_tile_dataset(root, rows=1, cols=2, size=32)
    path = root / "images" / f"{stems[0]}.png"
    Image.open(path).convert("RGBA").save(path)
    tiles = TileDataset(root, stems)
    assert {image.shape[0] for image in tiles.images} == {3}


@pytest.mark.skipif(__import__("os").geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder_gets_one_line(inputs, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        export = ["export", str(inputs["CKPT"]), "--out", str(locked / "m.onnx")]
        predict = ["predict", str(inputs["CKPT"]), str(inputs["SCENE"]), "--out", str(locked)]
        for args in (export, predict):
            assert "cannot write" in one_error(runner.invoke(app, args))
    finally:
        locked.chmod(0o700)


def test_a_read_only_file_system_gets_one_line_for_every_writer(inputs, tmp_path, monkeypatch):
    """The same as above where root ignores permissions: the file system itself refuses."""
    import errno
    import tempfile

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", read_only)
    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    out = tmp_path / "ro"
    commands = [
        ["export", str(inputs["CKPT"]), "--out", str(out / "m.onnx")],
        ["predict", str(inputs["CKPT"]), str(inputs["SCENE"]), "--out", str(out / "p")],
        ["tile", str(inputs["SCENE"]), "--labels", str(inputs["SCENE"]), "--out", str(out / "t")],
    ]
    for args in commands:
        assert "Read-only file system" in one_error(runner.invoke(app, args)), args
    assert not [p for p in out.rglob("*") if p.is_file()]  # nothing written anywhere


def test_a_full_disk_gets_one_line_and_leaves_nothing(inputs, tmp_path, monkeypatch):
    import errno

    import quakeslide.inference.predict as predict_module

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out" / "x"))

    monkeypatch.setattr(predict_module, "copy_as_cog", full)
    out = tmp_path / "out"
    args = ["predict", str(inputs["CKPT"]), str(inputs["SCENE"]), "--out", str(out),
            "--tile", "32", "--device", "cpu"]  # fmt: skip
    assert "No space left on device" in one_error(runner.invoke(app, args))
    assert list(out.iterdir()) == []  # temporaries removed, nothing under a final name


def test_temporaries_of_a_killed_run_are_cleaned_by_the_next(inputs, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    stale = [
        out / ".s_prob.abc123.tif",
        out / ".s_prob.abc123.stream.tif",
        out / ".s_summary.x.json",
    ]
    for path in stale:
        path.write_bytes(b"left by kill -9")
    unrelated = out / ".s_b_prob.def456.tif"  # another scene's, maybe being written right now
    unrelated.write_bytes(b"")
    args = ["predict", str(inputs["CKPT"]), str(inputs["SCENE"]), "--out", str(out),
            "--tile", "32", "--device", "cpu"]  # fmt: skip
    assert runner.invoke(app, args).exit_code == 0
    assert not any(p.exists() for p in stale) and unrelated.exists()
    work = tmp_path / ".ds.killed"  # the work folder of a tile that was killed
    (work / "images").mkdir(parents=True)
    labels = np.zeros((1, 40, 40), np.uint8)
    labels[0, 5:20, 5:20] = 1
    mask = write_geotiff(tmp_path / "truth.tif", labels)
    tiled = runner.invoke(app, ["tile", str(inputs["SCENE"]), "--labels", str(mask),
                                "--out", str(tmp_path / "ds"), "--size", "32"])  # fmt: skip
    assert tiled.exit_code == 0, tiled.output
    assert not work.exists() and (tmp_path / "ds" / "tiles.csv").exists()
