"""Checkpoint -> ONNX with dynamic batch, height and width, checked against torch."""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from quakeslide.io.raster import atomic_path
from quakeslide.models.checkpoint import load_net

CHECK_SHAPES = ((1, 256, 256), (3, 100, 130))


@dataclass(frozen=True)
class ExportResult:
    path: Path
    max_abs_diff: float  # logits, onnxruntime vs torch, over CHECK_SHAPES
    max_prob_diff: float


def export_onnx(checkpoint: Path, out: Path, opset: int = 18) -> ExportResult:
    """Write the net (input normalisation included; input: image in [0, 1]) as ONNX.

    The checkpoint's metadata goes into the model's metadata under `quakeslide`.
    """
    import onnx
    import onnxruntime as ort

    net, meta = load_net(checkpoint)
    bands = len(meta["mean"])
    sample = torch.rand(2, bands, 70, 90)  # not multiples of 32: no size is special-cased
    batch, height, width = (torch.export.Dim.DYNAMIC for _ in range(3))
    with atomic_path(Path(out)) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        program = torch.onnx.export(
            net,
            (sample,),
            dynamo=True,
            input_names=["image"],
            output_names=["logits"],
            dynamic_shapes=({0: batch, 2: height, 3: width},),
            opset_version=opset,
            verbose=False,
        )
        program.save(str(tmp))
        model = onnx.load(str(tmp))
        entry = model.metadata_props.add()
        entry.key, entry.value = "quakeslide", json.dumps(meta)
        onnx.save(model, str(tmp))
        onnx.checker.check_model(str(tmp))
        session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        logit_diff = prob_diff = 0.0
        for n, h, w in CHECK_SHAPES:
            image = torch.rand(n, bands, h, w)
            with torch.inference_mode():
                expected = net(image).numpy()
            got = session.run(None, {session.get_inputs()[0].name: image.numpy()})[0]
            logit_diff = max(logit_diff, float(np.abs(got - expected).max()))
            prob_diff = max(prob_diff, float(np.abs(_softmax1(got) - _softmax1(expected)).max()))
    return ExportResult(Path(out), logit_diff, prob_diff)


def _softmax1(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp[:, 1] / exp.sum(axis=1)
