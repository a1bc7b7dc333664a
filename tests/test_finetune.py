"""train --init: fine-tuning from a parent checkpoint, a frozen encoder, lineage, bad input."""

import copy
import csv
import hashlib
import json
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
import yaml
from conftest import (
    FINE,
    Crash,
    CrashAtEpoch,
    metric_rows,
    weights,
    write_scenes_dataset,
)
from rasters import write_geotiff
from typer.testing import CliRunner

from quakeslide.cli import app
from quakeslide.config import TrainConfig
from quakeslide.errors import InputError
from quakeslide.folders import PredictionOutputs
from quakeslide.models.base import SegmentationNet
from quakeslide.models.checkpoint import load_net
from quakeslide.options import StudyOptions
from quakeslide.training.fit import train
from quakeslide.training.parent import encoder_of

runner = CliRunner()


class FirstBatchLoss(L.Callback):
    """The module's loss on the first batch before any step, and the parent's on it."""

    def __init__(self, parent_path: Path):
        self.parent, _ = load_net(parent_path)
        self.losses: tuple[float, float] | None = None

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if self.losses is not None:
            return
        image, mask = batch
        ours = copy.deepcopy(module.net).train()  # a copy: batch norm statistics stay put
        theirs = self.parent.train()
        with torch.no_grad():
            self.losses = (
                float(module.loss(ours(image), mask)),
                float(module.loss(theirs(image), mask)),
            )


def test_a_fine_tuned_run_starts_from_the_parents_weights(dataset, parent, tmp_path):
    probe = FirstBatchLoss(parent)
    result = train(dataset, tmp_path / "fine", TrainConfig(**(FINE | {"init": str(parent)})),
                   callbacks=[probe])  # fmt: skip
    ours, theirs = probe.losses
    assert ours == pytest.approx(theirs, rel=1e-6)
    scratch = FirstBatchLoss(parent)
    train(dataset, tmp_path / "scratch", TrainConfig(**FINE), callbacks=[scratch])
    assert scratch.losses[0] != pytest.approx(scratch.losses[1], rel=1e-3)  # the check can fail
    record = {"path": str(parent), "sha256": hashlib.sha256(parent.read_bytes()).hexdigest()}
    assert result.summary.parent == record
    assert load_net(result.best_checkpoint)[1]["parent"] == record
    saved = (tmp_path / "fine" / "config.yaml").read_text()
    assert f"init: {parent}" in saved


def encoder_prefixes(checkpoint: Path) -> tuple[str, ...]:
    """Key prefixes of the encoder's weights and statistics in a checkpoint's state dict."""
    net, _ = load_net(checkpoint)
    names = {id(module): name for name, module in net.named_modules()}
    return tuple(f"net.{names[id(module)]}." for module in encoder_of(net))


def test_a_frozen_encoder_stays_bit_identical(dataset, parent, tmp_path):
    config = TrainConfig(**(FINE | {"init": str(parent), "freeze": "encoder"}))
    result = train(dataset, tmp_path / "frozen", config)
    before, after = weights(parent), weights(result.run / "checkpoints" / "last.ckpt")
    prefixes = encoder_prefixes(parent)
    encoder_names = [k for k in before if k.startswith(prefixes)]  # weights and BN statistics
    assert encoder_names and all(torch.equal(before[k], after[k]) for k in encoder_names)
    decoder = [k for k in before if k.startswith("net.net.decoder") and k.endswith("weight")]
    assert any(not torch.equal(before[k], after[k]) for k in decoder)  # the decoder learnt


def test_frozen_batch_norms_stay_bit_identical(dataset, parent, tmp_path):
    config = TrainConfig(**(FINE | {"init": str(parent), "freeze": "batchnorm"}))
    result = train(dataset, tmp_path / "frozen", config)
    before, after = weights(parent), weights(result.run / "checkpoints" / "last.ckpt")
    net, _ = load_net(parent)
    norms = [f"net.{name}." for name, module in net.named_modules()
             if isinstance(module, torch.nn.BatchNorm2d)]  # fmt: skip
    held = [k for k in before if k.startswith(tuple(norms))]  # scale, shift, statistics
    assert len(held) >= 4 * len(norms) > 0
    assert all(torch.equal(before[k], after[k]) for k in held)
    convs = [k for k in before if k not in held and k.endswith("weight")]
    assert any(not torch.equal(before[k], after[k]) for k in convs)  # the rest learnt


def test_a_small_encoder_rate_keeps_the_encoder_near_the_parent(dataset, parent, tmp_path):
    config = TrainConfig(**(FINE | {"init": str(parent), "encoder_lr_scale": 1e-6}))
    result = train(dataset, tmp_path / "slow", config)
    before, after = weights(parent), weights(result.run / "checkpoints" / "last.ckpt")
    prefixes = encoder_prefixes(parent)
    encoder = [k for k in before if k.startswith(prefixes) and k.endswith("weight")]
    # Adam moves a weight by about its rate a step: 1e-9 here, against 1e-3 for the rest
    assert encoder and all(torch.allclose(before[k], after[k], atol=1e-6) for k in encoder)
    decoder = [k for k in before if k.startswith("net.net.decoder") and k.endswith("weight")]
    assert any(not torch.allclose(before[k], after[k], atol=1e-4) for k in decoder)


@pytest.mark.parametrize("extra", [{}, {"encoder_lr_scale": 0.1}])
def test_resume_of_a_fine_tuned_run(dataset, parent, tmp_path, extra):
    config = TrainConfig(**(FINE | {"init": str(parent)} | extra))
    whole = train(dataset, tmp_path / "whole", config)
    with pytest.raises(Crash):
        train(dataset, tmp_path / "stopped", config, callbacks=[CrashAtEpoch(1)])
    resumed = train(dataset, tmp_path / "stopped", config, resume=True)
    assert metric_rows(resumed.run) == metric_rows(whole.run)
    a, b = (
        weights(whole.run / "checkpoints" / "last.ckpt"),
        weights(resumed.run / "checkpoints" / "last.ckpt"),
    )
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_dataset_normalization_keeps_the_new_statistics(dataset, parent, tmp_path):
    config = TrainConfig(**(FINE | {"init": str(parent), "normalization": "own", "epochs": 1}))
    result = train(dataset, tmp_path / "own", config)
    _, parent_meta = load_net(parent)
    _, meta = load_net(result.best_checkpoint)
    assert meta["mean"] == pytest.approx(parent_meta["mean"])  # same tiles: same statistics
    assert meta["parent"]["path"] == str(parent)


def one_error_line(result) -> str:
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and len(errors) == 1, result.output
    return errors[0]


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--init", "NOT"], "not a readable checkpoint"),
        (["--init", "PARENT", "--model", "unet"], "a linknet checkpoint, but --model unet"),
        (["--freeze", "encoder"], "freeze encoder needs init"),
        (["--freeze", "batchnorm"], "freeze batchnorm needs init"),
        (["--init", "PARENT", "--freeze", "all"], "freeze"),
        (["--init", "PARENT", "--encoder-lr-scale", "0"], "'--encoder-lr-scale'"),
    ],
)
def test_bad_fine_tuning_input_stops_before_training(dataset, parent, tmp_path, extra, message):
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint at all")
    extra = [{"NOT": str(junk), "PARENT": str(parent)}.get(a, a) for a in extra]
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", str(dataset), "--out", str(out), *extra, "--epochs", "1"])
    assert message in one_error_line(result)
    assert not out.exists()


def test_freeze_on_a_net_without_an_encoder_split_is_refused():
    class Plain(SegmentationNet):
        pass

    class Holder:
        net = Plain()

    with pytest.raises(InputError, match="no encoder / decoder split"):
        encoder_of(Holder())
    with pytest.raises(InputError, match="encoder_lr_scale: Plain has no encoder"):
        encoder_of(Holder(), "encoder_lr_scale")


def test_predict_and_report_show_the_lineage(dataset, parent, tmp_path):
    fine = train(
        dataset, tmp_path / "fine", TrainConfig(**(FINE | {"init": str(parent), "epochs": 1}))
    )
    scene = write_geotiff(
        tmp_path / "s.tif", np.random.default_rng(0).integers(0, 256, (3, 40, 40), np.uint8)
    )
    out = tmp_path / "pred"
    args = ["predict", str(fine.best_checkpoint), str(scene), "--out", str(out), "--tile", "32",
            "--device", "cpu", "--precision", "32-true"]  # fmt: skip
    assert runner.invoke(app, args).exit_code == 0
    summary = json.loads(PredictionOutputs.for_stem("s", out).summary.read_text())
    assert summary["parent"]["path"] == str(parent)
    page = tmp_path / "map.html"
    assert runner.invoke(app, ["report", str(out), "--out", str(page)]).exit_code == 0
    assert "fine-tuned from" in page.read_text()


def test_study_with_init_puts_zero_shot_scratch_and_adapted_side_by_side(dataset, parent, tmp_path):
    import csv

    from quakeslide.data.dataset import TileDataset
    from quakeslide.device import plan_compute
    from quakeslide.evaluation.run import score_net
    from quakeslide.training.study import run_study

    out = tmp_path / "study"
    config = TrainConfig(**(FINE | {"init": str(parent), "epochs": 1}))
    run_study(
        dataset,
        out,
        config,
        StudyOptions(models=["unet"], sizes=[2, 4], folds=2, grouping="random"),
    )
    with open(out / "table1.csv", newline="") as f:
        table = [(t["model"], t["size"]) for t in csv.DictReader(f)]
    variants = ["scratch", "adapted", "adapted-frozen"]
    assert table == [("zero-shot", "0")] + [(v, n) for v in variants for n in ("2", "4")]
    with open(out / "runs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(out / "folds.csv", newline="") as f:
        folds = {row["stem"]: row["fold"] for row in csv.DictReader(f)}
    val = sorted(s for s, k in folds.items() if k == "0")
    zero = next(r for r in rows if r["model"] == "zero-shot" and r["fold"] == "0")
    expected = score_net(
        load_net(parent)[0], TileDataset(dataset, val), plan_compute("cpu", "32-true")
    )
    assert float(zero["f1"]) == pytest.approx(expected["f1"])
    runs = out / "runs"
    adapted = json.loads((runs / "adapted_n2_fold0" / "summary.json").read_text())
    scratch = json.loads((runs / "scratch_n2_fold0" / "summary.json").read_text())
    assert adapted["parent"]["path"] == str(parent) and "parent" not in scratch
    assert adapted["model"] == scratch["model"] == "linknet"  # the parent's, not --models
    frozen = yaml.safe_load((runs / "adapted-frozen_n2_fold0" / "config.yaml").read_text())
    assert frozen["freeze"] == "encoder" and frozen["init"] == str(parent)
    assert (out / "figures" / "transfer_f1_vs_tiles.png").exists()


def test_a_study_sized_in_scenes_trains_on_whole_scenes_and_validates_on_others(parent, tmp_path):
    from quakeslide.training.study import run_study

    data = tmp_path / "data"
    write_scenes_dataset(data, scenes=4, rows=2, cols=2)
    out = tmp_path / "study"
    config = TrainConfig(**(FINE | {"init": str(parent), "epochs": 1, "crop": 16}))
    options = StudyOptions(models=["linknet"], sizes=[1], folds=2, size_unit="scenes")
    summary = run_study(data, out, config, options)
    assert summary.grouping == "scenes" and summary.size_unit == "scenes"
    with open(out / "runs.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["model"] != "zero-shot"]
    assert {r["tiles"] for r in rows} == {"4"}  # one scene of 2 x 2 tiles
    with open(out / "folds.csv", newline="") as f:
        folds = list(csv.DictReader(f))
    for scene in range(4):
        assert len({r["fold"] for r in folds if r["stem"].startswith(f"scene{scene}_")}) == 1
    assert "| model | scenes | tiles |" in (out / "table1.md").read_text()
    assert (out / "figures" / "transfer_f1_vs_tiles.png").stat().st_size > 1000
