"""Train one model on a dataset folder and write a run folder (DESIGN.md contract)."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, EMAWeightAveraging, ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO

from quakeslide.allocator import keep_freed_memory
from quakeslide.config import TrainConfig
from quakeslide.data.dataset import TileDataset, channel_stats, tile_pixel_size
from quakeslide.data.splits import Split, holdout_split, nested_subset
from quakeslide.device import (
    ComputePlan,
    configure_cpu_threads,
    is_launch_rank_zero,
    plan_training,
)
from quakeslide.errors import InputError, first_line
from quakeslide.folders import RunFolder, dataset_folders
from quakeslide.io.raster import atomic_path, refuse_output_over_input, writable_folder
from quakeslide.models import MODELS, count_parameters
from quakeslide.models.efficientnet_lite import IMAGENET_LITE_MEAN, IMAGENET_LITE_STD
from quakeslide.options import named
from quakeslide.records import EpochScores, RunSummary
from quakeslide.training.data_module import TileDataModule
from quakeslide.training.epoch_log import EpochCsv, best_row
from quakeslide.training.module import LandslideSegmenter
from quakeslide.training.parent import Parent, check_bands, load_parent, start_from

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    run: Path
    best_checkpoint: Path
    summary: RunSummary


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written under a temporary name, then renamed: a kill never truncates one."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        with atomic_path(Path(path)) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)


def choose_split(dataset: Path, config: TrainConfig, split: Split | None = None) -> Split:
    """The given split (cv, study) or the config's; cut to `max_tiles` training tiles."""
    if split is None:
        split = holdout_split(
            dataset, config.train_split, config.val_split, config.val_fraction, config.seed
        )
    if config.max_tiles is not None and config.max_tiles < len(split.train):
        split = Split(nested_subset(split.train, config.max_tiles, config.seed), split.val)
    if not split.train or not split.val:
        raise InputError(f"{dataset}: need at least one training and one validation tile")
    overlap = set(split.train) & set(split.val)
    if overlap:
        raise InputError(f"{dataset}: {len(overlap)} tiles are in both training and validation")
    return split


RESUME_MAY_CHANGE = {"epochs", "num_workers"}


def prepare_run_folder(
    out: Path, config: TrainConfig, resume: bool, overwrite: bool
) -> Path | None:
    """The checkpoint to resume from, if any; refuses to train over an existing run."""
    run = RunFolder(out)
    if resume:
        if run.last_checkpoint.exists():
            _same_settings(run.config, config)
            _check_resumable(run.last_checkpoint)
            return run.last_checkpoint
        log.info("%s: nothing to resume, starting a new run", out)
    elif run.checkpoints.exists() or run.summary.exists():
        if not overwrite:
            raise InputError(
                f"{out}: holds a run already; pass {named('resume')} or another {named('out')}"
            )
        shutil.rmtree(out)
    return None


def finished_run(out: Path, config: TrainConfig) -> RunResult | None:
    """The result of a run in `out` that already finished with these settings, if any."""
    run = RunFolder(out)
    if not (run.summary.exists() and run.config.exists()):
        return None
    summary = RunSummary.read(run.summary)
    if not summary.finished or TrainConfig.resolve(run.config) != config:
        return None
    return RunResult(out, run.best_checkpoint, summary)


def train_or_reuse(dataset: Path, out: Path, config: TrainConfig, split: Split) -> RunResult:
    """For cv and study: a finished run with these settings is kept, a stopped one resumed."""
    return finished_run(out, config) or train(dataset, out, config, split=split, resume=True)


SCORED_EPOCHS = {"best": "best", "last": "final"}  # a score option: the summary entry it reads


def scored_metrics(result: RunResult, score: str = "best") -> EpochScores:
    """The metrics cv and study report for a run (zeros when no epoch was validated).

    `best`: the epoch that scores best on the held-out tiles, the paper's protocol; it is
    chosen on the tiles it is scored on, so it flatters a run whose epochs swing. `last`:
    the last epoch, chosen without looking at them, as a user without held-out labels gets.
    """
    none = EpochScores(epoch=-1, precision=0.0, recall=0.0, f1=0.0, iou=0.0)
    return getattr(result.summary, SCORED_EPOCHS[score]) or none


def run_config(out: Path, resume: bool, base: Path | None = None, **given: Any) -> TrainConfig:
    """Defaults, then the YAML `base` (resuming without one: the run's own config.yaml),
    then the options given."""
    saved = RunFolder(out).config
    if base is None and resume and saved.exists():
        base = saved
    return TrainConfig.resolve(base, **given)


def train(
    dataset: Path,
    out: Path,
    config: TrainConfig | None = None,
    split: Split | None = None,
    resume: bool = False,
    overwrite: bool = False,
    callbacks: Sequence[Callback] = (),
) -> RunResult:
    """Fit `config.model`; resumable from RUN/checkpoints/last.ckpt with the same results.
    No `config`: the run's own when resuming (see `run_config`), else the defaults."""
    dataset, out = Path(dataset), Path(out)
    config = config or run_config(out, resume)
    refuse_output_over_input(out, dataset, within=dataset_folders(dataset))
    run = RunFolder(out)
    split = choose_split(dataset, config, split)
    parent = None
    if config.init is not None:
        asked = config.model if "model" in config.model_fields_set else None
        parent = load_parent(Path(config.init), asked)
        config = config.model_copy(update={"model": parent.meta["model"]})
    plan = plan_training(
        config.device, config.precision, MODELS[config.model].cls.cpu_training_autocast
    )
    train_set, val_set = _tile_sets(dataset, split, config)
    if parent is not None:
        check_bands(parent, bands=train_set.images[0].shape[0])
    if is_launch_rank_zero():
        writable_folder(out)
        resume_from = prepare_run_folder(out, config, resume, overwrite)
    else:  # a process started by the DDP launcher: the user's process prepared the folder
        last = run.last_checkpoint
        resume_from = last if resume and last.exists() else None
    L.seed_everything(config.seed, workers=True, verbose=False)
    processes_here = config.devices if plan.device == "cpu" else 1
    configure_cpu_threads(processes_here)
    keep_freed_memory()
    module = _segmenter(dataset, train_set, config, plan, parent, starting=resume_from is None)
    keep_best = ModelCheckpoint(
        dirpath=run.checkpoints,
        filename=run.best_checkpoint.stem,
        monitor="val_f1",
        mode="max",
        enable_version_counter=False,
    )
    trainer = _trainer(run, config, plan, keep_best, callbacks)
    if is_launch_rank_zero():
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(run.config) as tmp:
            tmp.write_text(config.to_yaml())
    data = TileDataModule(
        train_set,
        val_set,
        batch_size=config.batch_size,
        copies=config.augment,
        seed=config.seed,
        num_workers=config.num_workers,
    )
    trainer.fit(module, datamodule=data, ckpt_path=resume_from)
    rows = run.epoch_rows()
    summary = RunSummary(
        model=config.model,
        encoder_weights="imagenet" if config.starts_from_imagenet else "none",
        parameters=count_parameters(module.net.net),
        train_tiles=len(split.train),
        val_tiles=len(split.val),
        augment=config.augment,
        first_copy=config.first_copy,
        ema=config.ema,
        crop=config.crop,
        **({"parent": parent.record(), "freeze": config.freeze} if parent else {}),
        epochs=len(rows),
        finished=len(rows) >= config.epochs and not trainer.interrupted,
        best=_scores(best_row(rows)),
        final=_scores(rows[-1] if rows else None),
        best_val_f1=float(keep_best.best_model_score or 0.0),
        wall_seconds=round(sum(r["epoch_seconds"] for r in rows), 1),
        device=plan.device,
        devices=config.devices * config.num_nodes,
        precision=plan.precision,
        precision_reason=plan.reason,
        cpu_threads=torch.get_num_threads(),
        torch=torch.__version__,
    )
    if trainer.is_global_zero:
        with atomic_path(run.summary) as tmp:
            tmp.write_text(summary.to_json())
    return RunResult(out, run.best_checkpoint, summary)


def _tile_sets(dataset: Path, split: Split, config: TrainConfig) -> tuple[TileDataset, TileDataset]:
    """The training tiles (augmented as configured) and the validation tiles, as they are."""
    train_set = TileDataset(
        dataset,
        split.train,
        augment=config.augment > 1,
        seed=config.seed,
        crop=config.crop,
        first_copy=config.first_copy,
    )
    if train_set.landslide_pixels() == 0:
        raise InputError(f"{dataset}: the training masks hold no landslide pixel at all")
    val_set = TileDataset(dataset, split.val)
    if val_set.landslide_pixels() == 0:
        log.warning("validation masks hold no landslide pixel: F1 will be 0")
    return train_set, val_set


def _segmenter(
    dataset: Path,
    train_set: TileDataset,
    config: TrainConfig,
    plan: ComputePlan,
    parent: Parent | None,
    starting: bool,
) -> LandslideSegmenter:
    """The model to fit; a new (not resumed) fine-tuning run starts from the parent's weights."""
    own_statistics = parent is None or config.normalization == "own"
    imagenet = config.starts_from_imagenet
    if imagenet:
        mean, std = _imagenet_statistics(config.model, bands=train_set.images[0].shape[0])
    elif own_statistics:
        mean, std = channel_stats(train_set.images)
    else:
        mean, std = _statistics(parent)
    module = LandslideSegmenter(
        config,
        mean,
        std,
        tile_size=int(train_set.images[0].shape[-1]),
        channels_last=_channels_last(plan, config.model),
        pixel_size_m=tile_pixel_size(dataset, train_set.stems[0]),
        parent=parent.record() if parent else None,
    )
    if imagenet and starting:
        module.net.net.load_imagenet()
    if parent is not None and starting:
        start_from(module.net, parent, keep_own_normalization=own_statistics)
    if _channels_last(plan, config.model):
        module = module.to(memory_format=torch.channels_last)
    return module


def _trainer(
    run: RunFolder,
    config: TrainConfig,
    plan: ComputePlan,
    keep_best: ModelCheckpoint,
    callbacks: Sequence[Callback],
) -> L.Trainer:
    # Lightning 2.6's save_last writes last.ckpt only in epochs that improve best.ckpt, so a
    # killed run would resume from its best epoch, not its last: this one saves every epoch,
    # after `keep_best` (the order they run in), so it holds its updated score for a resume.
    keep_last = ModelCheckpoint(
        dirpath=run.checkpoints, filename=run.last_checkpoint.stem, enable_version_counter=False
    )
    # --ema: validation, best.ckpt and last.ckpt's weights are the average (Lightning keeps
    # the weights as trained beside it in the checkpoints, for a resume)
    averaging = [EMAWeightAveraging(decay=config.ema)] if config.ema > 0 else []
    distributed = config.devices * config.num_nodes > 1
    return L.Trainer(
        max_epochs=config.epochs,
        accelerator=plan.accelerator,
        devices=config.devices,
        num_nodes=config.num_nodes,
        strategy="ddp" if distributed else "auto",
        precision=plan.precision,
        logger=False,
        callbacks=[*averaging, keep_best, keep_last, EpochCsv(run), *callbacks],
        num_sanity_val_steps=0,
        deterministic=plan.device == "cpu",
        enable_model_summary=False,
        use_distributed_sampler=False,
        plugins=[AtomicCheckpointIO()],
    )


def _check_resumable(checkpoint: Path) -> None:
    """Lightning's own load of a broken or unsafe file ends in a traceback: check it first."""
    try:
        payload = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as err:  # empty, truncated, or a pickle weights_only refuses
        raise InputError(f"{checkpoint}: cannot resume from it ({first_line(err)})") from None
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise InputError(f"{checkpoint}: cannot resume from it (not a training checkpoint)")


def _channels_last(plan: ComputePlan, model: str) -> bool:
    return plan.train_channels_last_for(MODELS[model].cls.fp32_cpu_channels_last)


def _imagenet_statistics(model: str, bands: int) -> tuple[list[float], list[float]]:
    """The input normalisation the ImageNet weights were trained with (RGB only)."""
    if bands != 3:
        raise InputError(
            f"{named('model')} {model} starts from ImageNet weights, which take 3 bands (RGB); the"
            f" dataset has {bands}: pass {named('encoder_weights')} none"
        )
    return list(IMAGENET_LITE_MEAN), list(IMAGENET_LITE_STD)


def _statistics(parent: Parent) -> tuple[list[float], list[float]]:
    return list(parent.meta["mean"]), list(parent.meta["std"])


def _same_settings(saved_path: Path, config: TrainConfig) -> None:
    if not saved_path.exists():
        return
    saved = TrainConfig.resolve(saved_path).model_dump()
    changed = [k for k, v in config.model_dump().items() if saved[k] != v]
    if config.schedule != "step":  # cosine and one-cycle are shaped by the epoch count
        changed = [k for k in changed if k != "num_workers"]
    else:
        changed = [k for k in changed if k not in RESUME_MAY_CHANGE]
    if changed:
        raise InputError(
            f"{saved_path.parent}: cannot resume with other settings ({', '.join(changed)});"
            f" use another {named('out')}"
        )


def _scores(row: dict[str, float] | None) -> EpochScores | None:
    if row is None:
        return None
    names = ("precision", "recall", "f1", "iou", "threshold")
    return EpochScores(epoch=int(row["epoch"]), **{n: row[f"val_{n}"] for n in names})
