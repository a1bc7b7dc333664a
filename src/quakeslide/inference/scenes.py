"""`predict` over many scenes: engine choice, this rank's share, finished scenes skipped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from quakeslide.device import configure_cpu_threads, plan_compute
from quakeslide.errors import InputError
from quakeslide.folders import PredictionOutputs, is_prediction_output
from quakeslide.inference.engines import Engine, onnx_engine
from quakeslide.inference.ensemble import checkpoint_paths, load_models
from quakeslide.inference.predict import predict_scene
from quakeslide.inference.shards import bind_local_gpu, launch_ranks, my_scenes
from quakeslide.inference.standardise import (
    check_normalization_name,
    scene_statistics,
    standardised,
)
from quakeslide.inference.tta import check_tta_name, with_tta
from quakeslide.io.raster import expand_scenes, remove_stale, writable_folder


def choose_engine(
    checkpoint: Path | None,
    onnx: Path | None,
    device: str,
    precision: str,
    threads: int,
) -> Engine:
    """onnxruntime for an exported model, else the checkpoints' nets on this rank's device.

    `checkpoint` may name an ensemble (see :mod:`quakeslide.inference.ensemble`).
    """
    if onnx is not None:
        return onnx_engine(onnx, threads)
    if checkpoint is None:
        raise InputError("no checkpoint given: quakeslide predict CHECKPOINT SCENE... --out DIR")
    bind_local_gpu()
    engine, _ = load_models(checkpoint, plan_compute(device, precision))
    return engine


def scene_engine(
    engine: Engine, scene: Path, tta: str, normalization: str, bands: list[int] | None
) -> Engine:
    """The engine for one scene: standardised by the scene's statistics if asked, then TTA."""
    if normalization == "scene":
        engine = standardised(engine, scene_statistics(scene, bands))
    return with_tta(engine, tta)


def refuse_overwriting(outputs: PredictionOutputs, inputs: set[Path]) -> None:
    """InputError if an output would replace an input, or a file predict did not write."""
    for path in outputs.paths():
        if path.resolve() in inputs:
            raise InputError(
                f"{path}: is an input; predict never overwrites one: use another --out"
            )
    if outputs.finished() or outputs.started():
        return  # finished: skipped; started (a stopped run): its own files, redone
    for path in outputs.paths():
        if path.exists():
            raise InputError(
                f"{path}: exists and predict did not write it; use another --out"
                " (predict never replaces such a file)"
            )


def predict_scenes(
    checkpoint: Path | None,
    onnx: Path | None,
    scene_paths: list[Path],
    out: Path,
    device: str = "auto",
    precision: str = "auto",
    threshold: float | None = 0.5,
    tta: str = "none",
    normalization: str = "checkpoint",
    **settings: Any,
) -> Iterator[tuple[Path, PredictionOutputs | None]]:
    """Map this rank's scenes into `out`; yields (scene, outputs), None for a skipped scene.

    `threshold` None: the model's calibrated one; `tta`: see :mod:`quakeslide.inference.tta`;
    `normalization`: see :mod:`quakeslide.inference.standardise`.
    `settings` go to :func:`predict_scene` (tile, batch size, ...). A scene whose outputs
    all exist was finished by an earlier call and is skipped.
    """
    if not scene_paths:
        raise InputError("no scene given: quakeslide predict CHECKPOINT SCENE... --out DIR")
    check_tta_name(tta)
    check_normalization_name(normalization)
    scenes = my_scenes(expand_scenes(scene_paths, skip=is_prediction_output))
    models = checkpoint_paths(checkpoint) if checkpoint is not None else [onnx]
    inputs = {Path(p).resolve() for p in [*scenes, *models] if p is not None}
    for scene in scenes:  # before any work: predict never overwrites a file not its own
        refuse_overwriting(PredictionOutputs.for_scene(scene, out), inputs)
    threads = configure_cpu_threads(launch_ranks()[3])
    engine = choose_engine(checkpoint, onnx, device, precision, threads)
    cut = engine.threshold(threshold, onnx or checkpoint)
    writable_folder(out)
    for scene in scenes:
        if PredictionOutputs.for_scene(scene, out).finished():
            yield scene, None
            continue
        for output in PredictionOutputs.for_scene(scene, out).paths():
            remove_stale(out, f".{output.stem}.")  # temporaries a killed run left
        here = scene_engine(engine, scene, tta, normalization, settings.get("bands"))
        yield scene, predict_scene(here, scene, out, threshold=cut, **settings)
