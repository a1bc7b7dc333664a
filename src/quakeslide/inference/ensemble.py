"""Which checkpoints a model argument names, and one engine averaging their probabilities.

A model argument is a checkpoint file, a run folder (its best checkpoint), a `cv` folder
(each fold's best checkpoint), or several of these joined by commas.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from quakeslide.device import ComputePlan
from quakeslide.errors import InputError
from quakeslide.folders import CvFolder, RunFolder
from quakeslide.inference.engines import Engine, torch_engine
from quakeslide.models.checkpoint import landslide_classes, load_net

MEMBER_KEYS = {"bands": "bands", "classes": "classes", "tile_size": "tile size"}


def checkpoint_paths(spec: Path | str) -> list[Path]:
    """The checkpoint files a model argument names, in order; an InputError if none."""
    paths: list[Path] = []
    for part in str(spec).split(","):
        if not part.strip():
            continue
        path = Path(part.strip())
        if runs := CvFolder(path).fold_runs():
            folds = [run.best_checkpoint for run in runs]
            missing = [f for f in folds if not f.exists()]
            if missing:
                raise InputError(f"{path}: cv folder with an unfinished fold ({missing[0]})")
            paths += folds
        elif path.is_dir():
            paths.append(RunFolder(path).best_checkpoint)
        else:
            paths.append(path)
    if not paths:
        raise InputError(f"{str(spec)!r}: names no checkpoint (an empty ensemble)")
    return paths


def load_models(spec: Path | str, plan: ComputePlan) -> tuple[Engine, str]:
    """One engine for the checkpoints `spec` names (their mean probability) and its name."""
    paths = checkpoint_paths(spec)
    engines, metas = [], []
    for path in paths:
        net, meta = load_net(path)
        meta = {**meta, "bands": len(meta["mean"]), "classes": landslide_classes(meta, str(path))}
        _check_member(path, meta, paths[0], metas[0] if metas else meta)
        engine = torch_engine(net, plan, meta.get("threshold"))
        if "parent" in meta:  # the lineage of a fine-tuned model, shown in every summary
            engine = replace(engine, description={**engine.description, "parent": meta["parent"]})
        engines.append(engine)
        metas.append(meta)
    name = metas[0].get("model", paths[0].stem)
    if len(engines) == 1:
        return engines[0], name
    return average(engines, [str(p) for p in paths]), f"{name} x{len(engines)}"


def _check_member(path: Path, meta: dict, first_path: Path, first: dict) -> None:
    for key, words in MEMBER_KEYS.items():
        if meta.get(key) != first.get(key):
            raise InputError(
                f"ensemble: {path} has {words} {meta.get(key)}, {first_path} has"
                f" {first.get(key)}: the models must agree"
            )


def average(engines: list[Engine], sources: list[str]) -> Engine:
    """The mean probability of `engines` (which see the same bands).

    Its calibrated threshold is the members' mean, where every member has one.
    """

    def predict(batch: np.ndarray) -> np.ndarray:
        total = engines[0].predict(batch)
        for engine in engines[1:]:
            total += engine.predict(batch)
        return total / len(engines)

    cuts = [e.calibrated_threshold for e in engines]
    calibrated = None if None in cuts else float(np.mean(cuts))
    description = {**engines[0].description, "ensemble": sources}
    return Engine(predict, engines[0].bands, description, calibrated, members=tuple(engines))
