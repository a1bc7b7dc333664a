"""Self-training: pseudo-labelled datasets (`pseudo-label`) and `study --self-train`."""

import csv
import json

import numpy as np
import pytest
from conftest import FINE, TINY, write_scenes_dataset
from PIL import Image
from typer.testing import CliRunner

from quakeslide.cli import app
from quakeslide.config import TrainConfig
from quakeslide.data.dataset import TileDataset, list_stems
from quakeslide.data.pseudo_dataset import PSEUDO_PREFIX, pseudo_mask, write_pseudo_labelled
from quakeslide.errors import InputError
from quakeslide.options import StudyOptions
from quakeslide.training.fit import train

runner = CliRunner()


@pytest.fixture(scope="module", autouse=True)
def split_lists(dataset) -> None:
    """Six tiles without labels for the model to label, four with."""
    stems = list_stems(dataset)
    (dataset / "unlabelled.txt").write_text("\n".join(stems[6:]) + "\n")
    (dataset / "labelled.txt").write_text("\n".join(stems[:4]) + "\n")


def brightness(images: np.ndarray) -> np.ndarray:
    """A stand-in model: the red band as the landslide probability."""
    return images[:, 0].astype(np.float32) / 255


def test_a_pseudo_mask_labels_the_sure_pixels_and_ignores_the_rest():
    probability = np.array([[0.1, 0.3, 0.5, 0.7, 0.9, 0.95]])
    source = np.array([[0, 1, 0, 0, 1, 255]], np.uint8)  # never read, except its ignore
    assert pseudo_mask(probability, source, 0.3, 0.7).tolist() == [[0, 0, 255, 1, 1, 255]]


def test_pseudo_labelled_tiles_join_the_source_tiles_which_keep_their_own_masks(dataset, tmp_path):
    unlabelled = list_stems(dataset, "unlabelled")
    out = tmp_path / "pseudo"
    result = write_pseudo_labelled(dataset, unlabelled, brightness, out, 0.3, 0.7,
                                   record={"model": "brightness"})  # fmt: skip
    assert result.stems == [PSEUDO_PREFIX + s for s in unlabelled]
    source = TileDataset(dataset, list_stems(dataset))
    copied = TileDataset(out, source.stems)
    for a, b in zip(source.masks, copied.masks, strict=True):  # true masks kept as they were
        assert np.array_equal(a, b)
    pseudo = TileDataset(out, result.stems)
    for stem, image, mask in zip(unlabelled, pseudo.images, pseudo.masks, strict=True):
        expected = pseudo_mask(brightness(image[None])[0], np.zeros(mask.shape), 0.3, 0.7)
        assert np.array_equal(mask, expected), stem
        assert np.array_equal(image, source.images[source.stems.index(stem)])
    labelled_share = np.mean([(m != 255).mean() for m in pseudo.masks])
    assert result.labelled_share == pytest.approx(labelled_share)
    assert 0 < result.labelled_share < 1
    assert list_stems(out, "pseudo") == result.stems
    others = [s for s in source.stems if s not in unlabelled]
    assert list_stems(out, "with-pseudo") == others + result.stems
    assert list_stems(out, "unlabelled") == unlabelled  # the source's split lists come along
    info = json.loads((out / "dataset.json").read_text())["pseudo_labels"]
    assert info["model"] == "brightness" and info["low"] == 0.3 and info["tiles"] == 3
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_pseudo_labels_keep_the_position_of_their_tile_in_tiles_csv(tmp_path):
    data = tmp_path / "data"
    stems = write_scenes_dataset(data, scenes=2, rows=1, cols=2)
    fields = ["stem", "scene", "row", "col", "landslide_fraction"]
    with open(data / "tiles.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for i, stem in enumerate(stems):
            writer.writerow({"stem": stem, "scene": stem.split("_")[0], "row": 0, "col": 16 * i,
                             "landslide_fraction": 0.5})  # fmt: skip
    write_pseudo_labelled(data, stems[:1], brightness, tmp_path / "out")
    with open(tmp_path / "out" / "tiles.csv", newline="") as f:
        rows = {r["stem"]: r for r in csv.DictReader(f)}
    pseudo = rows[PSEUDO_PREFIX + stems[0]]
    assert (pseudo["scene"], pseudo["col"]) == (rows[stems[0]]["scene"], rows[stems[0]]["col"])
    assert float(pseudo["landslide_fraction"]) != 0.5


def test_pseudo_labelling_refuses_bad_input_before_writing(dataset, tmp_path):
    unlabelled = list_stems(dataset, "unlabelled")
    with pytest.raises(InputError, match="low <= high"):
        write_pseudo_labelled(dataset, unlabelled, brightness, tmp_path / "a", 0.8, 0.2)
    with pytest.raises(InputError, match="no tile 'nope'"):
        write_pseudo_labelled(dataset, ["nope"], brightness, tmp_path / "b")
    (tmp_path / "c").mkdir()
    with pytest.raises(InputError, match="exists"):
        write_pseudo_labelled(dataset, unlabelled, brightness, tmp_path / "c")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]


def test_the_pseudo_label_command_writes_a_dataset_train_reads(dataset, parent, tmp_path):
    out = tmp_path / "pseudo"
    cpu = ["--device", "cpu", "--precision", "32-true"]
    args = ["pseudo-label", str(parent), str(dataset), "--out", str(out), "--split", "unlabelled",
            "--labelled-split", "labelled", *cpu]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "3 tiles pseudo-labelled" in result.output
    assert len(list_stems(out, "with-pseudo")) == 4 + 3
    for stem in list_stems(out, "pseudo"):
        assert set(np.unique(np.array(Image.open(out / "masks" / f"{stem}.png")))) <= {0, 1, 255}
    info = json.loads((out / "dataset.json").read_text())["pseudo_labels"]
    assert info["model"] == str(parent) and info["tta"] == "flip"
    run = train(out, tmp_path / "run", TrainConfig(**(TINY | {"epochs": 1, "train_split":
                "with-pseudo", "val_split": "unlabelled"})))  # fmt: skip
    assert run.summary.train_tiles == 7
    bad = runner.invoke(app, args[:4] + [str(tmp_path / "x"), "--split", "unlabelled",
                                         "--low", "0.9", "--high", "0.1"])  # fmt: skip
    assert bad.exit_code == 2 and "need --low <= --high" in bad.output
    assert len(bad.output.strip().splitlines()) == 1


def test_a_self_trained_study_pairs_every_run_with_one_on_its_pseudo_labels(
    dataset, parent, tmp_path
):
    from quakeslide.training.study import run_study

    out = tmp_path / "study"
    config = TrainConfig(**(FINE | {"init": str(parent), "epochs": 1}))
    options = StudyOptions(models=["linknet"], sizes=[2], folds=2, grouping="random",
                           self_train=True)  # fmt: skip
    summary = run_study(dataset, out, config, options)
    assert summary.self_train is True
    assert summary.models == ["scratch", "scratch+self", "adapted", "adapted+self",
                                 "adapted-frozen", "adapted-frozen+self"]  # fmt: skip
    with open(out / "runs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(out / "folds.csv", newline="") as f:
        val = sorted(r["stem"] for r in csv.DictReader(f) if r["fold"] == "0")
    runs = out / "runs"
    base = json.loads((runs / "adapted_n2_fold0" / "summary.json").read_text())
    partner = json.loads((runs / "adapted+self_n2_fold0" / "summary.json").read_text())
    assert partner["train_tiles"] == base["train_tiles"] + len(val)
    assert partner["val_tiles"] == base["val_tiles"] == len(val)
    assert partner["parent"] == base["parent"]  # trained from the parent, not from its partner
    pseudo = out / "pseudo" / "adapted_n2_fold0"
    info = json.loads((pseudo / "dataset.json").read_text())["pseudo_labels"]
    assert info["model"] == str(runs / "adapted_n2_fold0" / "checkpoints" / "last.ckpt")
    assert list_stems(pseudo, "pseudo") == [PSEUDO_PREFIX + s for s in val]
    self_rows = [r for r in rows if r["model"].endswith("+self")]
    assert {r["tiles"] for r in self_rows} == {"2"}  # sized by labelled tiles, as the base
    assert "adapted+self" in (out / "table1.md").read_text()
    # resumed: nothing is retrained or relabelled
    stamp = (pseudo / "dataset.json").stat().st_mtime_ns
    again = run_study(dataset, out, config, options)
    assert again.runs == summary.runs
    assert (pseudo / "dataset.json").stat().st_mtime_ns == stamp
