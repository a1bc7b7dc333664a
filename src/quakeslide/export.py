"""Checkpoint -> ONNX, checked against torch: for `predict --onnx`, or for QGIS Deepness.

The plain export has dynamic batch, height and width and returns logits. The Deepness one
follows what that plugin (PUTvision/qgis-plugin-deepness) reads: one static square input
(1, C, S, S) of uint8 pixels / 255, softmax probabilities (1, classes, S, S), IR version 8
(it pins onnxruntime <= 1.17, which loads IR <= 9), and JSON metadata values.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from quakeslide.classes import CLASS_NAMES
from quakeslide.errors import InputError
from quakeslide.io.raster import atomic_path, refuse_output_over_input, writable_folder
from quakeslide.models.checkpoint import NormalizedNet, load_net
from quakeslide.options import ExportOptions, PredictOptions

CHECK_SHAPES = ((1, 256, 256), (3, 100, 130))
DEEPNESS_OPSET = 18
DEEPNESS_IR_VERSION = 8  # the IR of opset 18; onnxruntime 1.17 loads up to 9
DEEPNESS_OVERLAP_PERCENT = 25  # predict's default overlap, tile / 4
PREDICT_WINDOW = PredictOptions.model_fields["tile"].default


@dataclass(frozen=True)
class ExportResult:
    path: Path
    max_abs_diff: float  # output, onnxruntime vs torch, over the checked shapes
    max_prob_diff: float  # landslide probability


class SoftmaxNet(torch.nn.Module):
    """The net with a softmax over classes on top: probabilities, as Deepness expects."""

    def __init__(self, net: NormalizedNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(image), dim=1)


def export_model(checkpoint: Path, out: Path, options: ExportOptions | None = None) -> ExportResult:
    """The plain export, or with `options.deepness` the one QGIS Deepness runs."""
    options = options or ExportOptions()
    if options.deepness:
        return export_deepness(checkpoint, out, options.tile, options.resolution, options.threshold)
    return export_onnx(checkpoint, out, options.opset)


def export_onnx(checkpoint: Path, out: Path, opset: int = 18) -> ExportResult:
    """Write the net (input normalisation included; input: image in [0, 1]) as ONNX.

    The checkpoint's metadata goes into the model's metadata under `quakeslide`.
    """
    refuse_output_over_input(out, checkpoint)
    net, meta = load_net(checkpoint)
    bands = len(meta["mean"])
    sample = torch.rand(2, bands, 70, 90)  # not multiples of 32: no size is special-cased
    batch, height, width = (torch.export.Dim.DYNAMIC for _ in range(3))
    shapes = [(n, bands, h, w) for n, h, w in CHECK_SHAPES]
    return _export(
        net, sample, ({0: batch, 2: height, 3: width},), out, opset, None,
        {"quakeslide": json.dumps(meta)}, ("image", "logits"), shapes, _softmax1,
    )  # fmt: skip


def export_deepness(
    checkpoint: Path,
    out: Path,
    tile: int | None = None,
    resolution_cm: float | None = None,
    threshold: float | None = 0.5,
) -> ExportResult:
    """The Deepness-ready ONNX: input (1, C, tile, tile), predict's window by default.

    `resolution_cm` (cm per pixel) defaults to the training tiles' pixel size, where the
    checkpoint knows it; Deepness rescales a map to it. `threshold` (None: the calibrated
    one) is predict's, so Deepness maps what predict maps; `seg_small_segment` 0 turns off
    Deepness's filter of small areas (a 9 px dilate / erode by default), which predict
    does not apply.
    """
    refuse_output_over_input(out, checkpoint)
    net, meta = load_net(checkpoint)
    tile = tile or PREDICT_WINDOW
    if resolution_cm is None and meta.get("pixel_size_m"):
        resolution_cm = round(meta["pixel_size_m"] * 100, 3)
    bands = len(meta["mean"])
    classes = meta.get("classes", CLASS_NAMES)
    deepness = {
        "model_type": "Segmentor",
        "class_names": {str(i): name for i, name in enumerate(classes)},
        "tile_size": tile,  # the name its code reads
        "tiles_size": tile,  # the name its documentation gives
        "tiles_overlap": DEEPNESS_OVERLAP_PERCENT,
        "seg_thresh": meta.get("threshold", 0.5) if threshold is None else threshold,
        "seg_small_segment": 0,
        **({"resolution": resolution_cm} if resolution_cm else {}),
    }
    metadata = {key: json.dumps(value) for key, value in deepness.items()}
    metadata["quakeslide"] = json.dumps(meta)
    return _export(
        SoftmaxNet(net), torch.rand(1, bands, tile, tile), None, out, DEEPNESS_OPSET,
        DEEPNESS_IR_VERSION, metadata, ("image", "probability"), [(1, bands, tile, tile)],
        lambda p: p[:, 1],
    )  # fmt: skip


def _export(
    net: torch.nn.Module,
    sample: torch.Tensor,
    dynamic_shapes: tuple | None,
    out: Path,
    opset: int,
    ir_version: int | None,
    metadata: dict[str, str],
    names: tuple[str, str],
    check_shapes: list[tuple[int, ...]],
    landslide_probability: Callable[[np.ndarray], np.ndarray],
) -> ExportResult:
    """Export, add metadata, check the model, and compare onnxruntime with torch."""
    import onnx
    import onnxruntime as ort

    net = net.eval()
    if Path(out).is_dir():
        raise InputError(f"{out}: is a folder; name the ONNX file to write")
    writable_folder(Path(out).parent)
    with atomic_path(Path(out)) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        program = torch.onnx.export(
            net, (sample,), dynamo=True, input_names=[names[0]], output_names=[names[1]],
            dynamic_shapes=dynamic_shapes, opset_version=opset, verbose=False,
        )  # fmt: skip
        program.save(str(tmp))
        model = onnx.load(str(tmp))
        if ir_version is not None:
            model.ir_version = ir_version
        for key, value in metadata.items():
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(model, str(tmp))
        onnx.checker.check_model(str(tmp))
        session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        output_diff = prob_diff = 0.0
        for shape in check_shapes:
            image = torch.rand(*shape)
            with torch.inference_mode():
                expected = net(image).numpy()
            got = session.run(None, {session.get_inputs()[0].name: image.numpy()})[0]
            output_diff = max(output_diff, float(np.abs(got - expected).max()))
            difference = landslide_probability(got) - landslide_probability(expected)
            prob_diff = max(prob_diff, float(np.abs(difference).max()))
    return ExportResult(Path(out), output_diff, prob_diff)


def _softmax1(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp[:, 1] / exp.sum(axis=1)
