"""`predict` over many scenes: engine choice, this rank's share, finished scenes skipped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from quakeslide.device import configure_cpu_threads, plan_compute
from quakeslide.errors import InputError
from quakeslide.folders import PredictionOutputs
from quakeslide.inference.engines import Engine, onnx_engine, torch_engine
from quakeslide.inference.predict import predict_scene
from quakeslide.inference.shards import bind_local_gpu, launch_ranks, my_scenes
from quakeslide.io.raster import expand_scenes, writable_folder
from quakeslide.models.checkpoint import load_net


def choose_engine(
    checkpoint: Path | None, onnx: Path | None, device: str, precision: str, threads: int
) -> Engine:
    """onnxruntime for an exported model, else the checkpoint's net on this rank's device."""
    if onnx is not None:
        return onnx_engine(onnx, threads)
    if checkpoint is None:
        raise InputError("no checkpoint given: quakeslide predict CHECKPOINT SCENE... --out DIR")
    bind_local_gpu()
    net, meta = load_net(checkpoint)
    return torch_engine(net, plan_compute(device, precision), meta.get("threshold"))


def predict_scenes(
    checkpoint: Path | None,
    onnx: Path | None,
    scene_paths: list[Path],
    out: Path,
    device: str = "auto",
    precision: str = "auto",
    threshold: float | None = 0.5,
    **settings: Any,
) -> Iterator[tuple[Path, PredictionOutputs | None]]:
    """Map this rank's scenes into `out`; yields (scene, outputs), None for a skipped scene.

    `threshold` None: the model's calibrated one. `settings` go to :func:`predict_scene`
    (tile, batch size, ...). A scene whose outputs all exist was finished by an earlier
    call and is skipped.
    """
    if not scene_paths:
        raise InputError("no scene given: quakeslide predict CHECKPOINT SCENE... --out DIR")
    scenes = my_scenes(expand_scenes(scene_paths))
    threads = configure_cpu_threads(launch_ranks()[3])
    engine = choose_engine(checkpoint, onnx, device, precision, threads)
    cut = engine.threshold(threshold, onnx or checkpoint)
    writable_folder(out)
    for scene in scenes:
        if PredictionOutputs.for_scene(scene, out).finished():
            yield scene, None
            continue
        yield scene, predict_scene(engine, scene, out, threshold=cut, **settings)
