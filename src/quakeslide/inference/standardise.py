"""Standardise a model's input by the scene's own statistics instead of its training tiles'.

A model normalises its input with the mean / std of its training tiles. On another sensor
or another event the colours can sit far from them. With normalization `own` each
scene is standardised by its own per-band mean / std instead: every window is remapped,
x -> (x - m_scene) / s_scene * s_train + m_train, so the model's own normalisation then
gives (x - m_scene) / s_scene. The remap is outside the model, so it works for a torch
net, an ONNX model and each member of an ensemble (with its own training statistics).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from quakeslide.data.dataset import Statistics, channel_stats
from quakeslide.errors import InputError
from quakeslide.inference.engines import Engine
from quakeslide.inference.ensemble import average
from quakeslide.io.scene import open_scene_reader


def scene_statistics(scene: Path, bands: list[int] | None = None) -> Statistics:
    """The statistics of a decimated read of the whole scene (about a million pixels)."""
    with open_scene_reader(scene, bands) as reader:
        image, valid = reader.sample()
    return channel_stats([image], [valid])


def standardised(engine: Engine, scene: Statistics) -> Engine:
    """`engine` seeing its input standardised by `scene` rather than its training statistics."""
    if engine.members:
        members = [standardised(member, scene) for member in engine.members]
        averaged = average(members, engine.description.get("ensemble", []))
        return replace(averaged, description=_described(engine.description, scene))
    if engine.statistics is None:
        raise InputError("normalization own: the model records no training statistics")
    if len(scene.mean) != engine.bands:
        raise InputError(
            f"normalization own: statistics of {len(scene.mean)} band(s),"
            f" the model expects {engine.bands}"
        )
    train_mean, train_std = (np.asarray(v, np.float32)[:, None, None] for v in engine.statistics)
    scene_mean, scene_std = (np.asarray(v, np.float32)[:, None, None] for v in scene)
    scale = train_std / scene_std
    shift = 255.0 * (train_mean - scene_mean * scale)

    def predict(batch: np.ndarray) -> np.ndarray:
        return engine.predict(batch.astype(np.float32) * scale + shift)

    return replace(engine, predict=predict, description=_described(engine.description, scene))


def _described(description: dict, scene: Statistics) -> dict:
    rounded = {k: [round(v, 4) for v in values] for k, values in scene._asdict().items()}
    return {**description, "normalization": {"by": "scene", **rounded}}
