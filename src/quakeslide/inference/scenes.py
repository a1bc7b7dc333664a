"""`predict` over many scenes: engine choice, this rank's share, finished scenes skipped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from quakeslide.device import configure_cpu_threads, plan_compute
from quakeslide.errors import InputError
from quakeslide.folders import PredictionOutputs, is_prediction_output
from quakeslide.inference.engines import Engine, onnx_engine
from quakeslide.inference.ensemble import checkpoint_paths, load_models
from quakeslide.inference.predict import predict_scene
from quakeslide.inference.shards import bind_local_gpu, launch_ranks, my_scenes
from quakeslide.inference.standardise import scene_statistics, standardised
from quakeslide.inference.tta import with_tta
from quakeslide.io.raster import expand_scenes, remove_stale, writable_folder
from quakeslide.options import PredictOptions, named


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
        raise InputError("no checkpoint given: name a model first, then the scenes")
    bind_local_gpu()
    engine, _ = load_models(checkpoint, plan_compute(device, precision))
    return engine


def scene_engine(engine: Engine, scene: Path, options: PredictOptions) -> Engine:
    """The engine for one scene: standardised by the scene's statistics if asked, then TTA."""
    if options.normalization == "own":
        engine = standardised(engine, scene_statistics(scene, options.bands))
    return with_tta(engine, options.tta)


def refuse_overwriting(outputs: PredictionOutputs, inputs: set[Path]) -> None:
    """InputError if an output would replace an input, or a file predict did not write."""
    for path in outputs.paths():
        if path.resolve() in inputs:
            raise InputError(
                f"{path}: is an input; predict never overwrites one: use another {named('out')}"
            )
    if outputs.finished() or outputs.started():
        return  # finished: skipped; started (a stopped run): its own files, redone
    for path in outputs.paths():
        if path.exists():
            raise InputError(
                f"{path}: exists and predict did not write it; use another {named('out')}"
                " (predict never replaces such a file)"
            )


def predict_scenes(
    checkpoint: Path | None,
    onnx: Path | None,
    scene_paths: list[Path],
    out: Path,
    options: PredictOptions | None = None,
) -> Iterator[tuple[Path, PredictionOutputs | None]]:
    """Map this rank's scenes into `out`; yields (scene, outputs), None for a skipped scene.

    A scene whose outputs all exist was finished by an earlier call and is skipped.
    """
    o = options or PredictOptions()
    if not scene_paths:
        raise InputError("no scene given: name at least one scene (or folder of scenes)")
    scenes = my_scenes(expand_scenes(scene_paths, skip=is_prediction_output))
    models = checkpoint_paths(checkpoint) if checkpoint is not None else [onnx]
    inputs = {Path(p).resolve() for p in [*scenes, *models] if p is not None}
    for scene in scenes:  # before any work: predict never overwrites a file not its own
        refuse_overwriting(PredictionOutputs.for_scene(scene, out), inputs)
    threads = configure_cpu_threads(launch_ranks()[3])
    engine = choose_engine(checkpoint, onnx, o.device, o.precision, threads)
    cut = engine.threshold(o.threshold, onnx or checkpoint)
    writable_folder(out)
    for scene in scenes:
        if PredictionOutputs.for_scene(scene, out).finished():
            yield scene, None
            continue
        for output in PredictionOutputs.for_scene(scene, out).paths():
            remove_stale(out, f".{output.stem}.")  # temporaries a killed run left
        yield scene, predict_scene(
            scene_engine(engine, scene, o), scene, out, threshold=cut, min_area_m2=o.min_area,
            tile=o.tile, overlap=o.overlap, batch_size=o.batch_size, bands=o.bands,
            pixel_size=o.pixel_size, separation=o.separation,
        )  # fmt: skip
