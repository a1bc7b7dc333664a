#!/usr/bin/env python
"""Emulate how QGIS Deepness maps a raster with a segmentation ONNX model; IoU against predict.

Usage:
    python deepness_emulate.py MODEL.onnx SCENE.tif PREDICT_MASK.tif
        [--thresh X] [--small-segment N] [--overlap PCT] [--tile N] [--resolution-cm R]
        [--batch N] [--threads N] [--save-mask OUT.tif]

It prints one JSON object: the parameters used, the tile grid, the IoU of the landslide
class between the emulated Deepness mask and the predict mask (predict value 1 = landslide,
its nodata (255) excluded), pixel counts, and connected-region counts of both masks.

Everything below follows the Deepness source (github.com/PUTvision/qgis-plugin-deepness),
read from the stored copy of the repository. Files and commits read:

  src/deepness/deepness_dockwidget.py (dock widget; version with _load_default_model_parameters)
    - "Load default parameters" copies ONNX metadata into the UI: `resolution` -> resolution
      (cm/px), `tile_size` -> tile size (the key `tiles_size` is NOT read by the code),
      `tiles_overlap` -> overlap in PERCENT, `seg_thresh` -> probability threshold (and the
      threshold checkbox is ticked iff value != 0), `seg_small_segment` -> "remove small
      segments" size (checkbox ticked iff value != 0).
    - get_segmentation_parameters: dilate/erode size = spin box value if the checkbox is
      ticked else 0; threshold = spin box value if its checkbox is ticked else 0.
    - On model load the tile size spin box is set from the input shape (input_0_shape[-1]);
      metadata `tile_size` overrides it when default parameters are loaded.
  src/deepness/common/config_entry_key.py @1a25d1f (UI defaults when metadata lacks a key)
    - PREPROCESSING_RESOLUTION 3.0 cm/px, PREPROCESSING_TILES_OVERLAP 15 (%),
      SEGMENTATION_PROBABILITY_THRESHOLD_ENABLED True / VALUE 0.5,
      SEGMENTATION_REMOVE_SMALL_SEGMENT_ENABLED True / SIZE 9, MODEL_BATCH_SIZE 1.
      (Values saved in a QGIS project override these; the defaults are what a fresh
      project shows.)
  src/deepness/common/processing_overlap.py @4747a84
    - overlap_px = int(tile * percent / 100 * 2) // 2        (128 px, 25 % -> 32 px)
  src/deepness/common/processing_parameters/map_processing_parameters.py @b023c6a
    - stride_px = tile_size_px - overlap_px
  src/deepness/processing/extent_utils.py @e43ed67
    - base extent ("Entire layer") = layer extent rounded to the layer's pixel grid.
    - calculate_extended_processing_extent: grow the base extent by overlap_px // 2 on every
      side, then INTERSECT with the layer extent (so for "Entire layer" nothing is added);
      then, if width <= tile: add tile - width, else add (stride - (width - tile) % stride)
      % stride pixels -- added to xMaximum (RIGHT) and to yMaximum (TOP, north), so the
      padding rows are above the raster and the tile grid starts in the padding.
    - calculate_base_extent_bbox_in_full_image: where the raster sits in that image
      (rows [pad_top, pad_top + H), columns [0, W)).
  src/deepness/processing/map_processor/map_processor.py @54c5868
    - image size = round(extent / units_per_pixel); bins = round((size - tile) / stride) + 1;
      tiles visited row by row, left to right, batched by batch_size;
      result image np.zeros(uint8); after processing, cropped to the base extent
      (limit_extended_extent_image_to_base_extent_with_mask; no polygon mask for
      "Entire layer" -> nothing masked).
  src/deepness/processing/tile_params.py @4747a84 (same as @31a9ac2 when the output is
  tile-sized)
    - tile (x_bin, y_bin) starts at (x_bin * stride, y_bin * stride) in the extended image;
      the model output is NOT blended: only the centre of each tile is copied,
      half_overlap = (tile - stride) // 2 px are cut on each side, except on the image
      border (first/last bin keep their outer edge). Later tiles overwrite earlier ones
      where cores overlap (1 px when overlap_px is odd).
  src/deepness/processing/processing_utils.py @567e865 (get_tile_image)
    - each tile is read from the QGIS data provider at the model resolution
      (resolution_cm_per_px / 100 m per pixel) with bilinear resampling enabled, so a
      raster whose pixel size equals the model `resolution` is read pixel for pixel;
      otherwise it is resampled (this script approximates that with rasterio bilinear).
    - bands: model input i <- raster band (mapping i, default i) + 1, clamped to the last
      band (common/channels_mapping.py @0300065, get_image_channel_index_for_model_input).
    - pixels outside the raster (the padding) come back as no-data from QGIS; this script
      fills them with 0 (an assumption: QGIS leaves the buffer bytes of a band without a
      no-data value untouched, in practice 0).
  src/deepness/processing/models/model_base.py (newest stored: with standardization) and
  src/deepness/processing/models/preprocessing_utils.py @6dbba77
    - HWC tile -> keep the first C channels -> np.float32(x * 1/255) (whatever the raster
      dtype) -> (x - mean) / std with `standardization_mean`/`standardization_std`
      metadata (default mean 0, std 1) -> NCHW.
  src/deepness/processing/models/segmentor.py (newest stored)
    - postprocessing returns the raw outputs (no clipping); a 1-channel (sigmoid) output
      is shown as two classes ['background', name].
  src/deepness/processing/map_processor/map_processor_segmentation.py @5ea69a4
    - _process_tile: result[result < threshold] = 0 (so a value == threshold is KEPT:
      ">="), then 1 channel -> (result != 0), else argmax over channels (ties -> the lower
      index). For a 2-class softmax this means: with threshold <= 0.5 the class is plain
      argmax (p1 > p0), the threshold has no effect; with threshold > 0.5 landslide iff
      p1 >= threshold.
    - "remove small segments": NOT erode/dilate any more: cv2.medianBlur over the whole
      extended result with ksize = (size // 2) * 2 + 1 (0 -> 1 = no filtering;
      9 -> 9x9; 8 -> 9), applied before cropping to the base extent. OpenCV's median blur
      replicates the border. For a 0/1 mask the 9x9 median is a majority vote (>= 41/81).
    - polygons: cv2.findContours(mask == class, RETR_TREE, CHAIN_APPROX_SIMPLE) -> OpenCV
      traces 8-connected foreground (holes are 4-connected background), one feature per
      outer contour with >= 3 points (processing_utils.convert_cv_contours_to_features):
      single pixels and 1-pixel-wide straight (horizontal, vertical, diagonal) lines
      collapse to <= 2 points and are dropped.

Processed-area type emulated: "Entire layer" (no polygon mask). Deepness version: the files
above are from the 0.6.x line (src/deepness/metadata.txt @0722bd8 says 0.6.3).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np
import onnxruntime as ort
import rasterio
from rasterio.enums import Resampling
from scipy import ndimage

# config_entry_key.py defaults (used when the ONNX metadata lacks a key)
DEFAULT_RESOLUTION_CM = 3.0
DEFAULT_OVERLAP_PERCENT = 15
DEFAULT_THRESHOLD = 0.5
DEFAULT_SMALL_SEGMENT = 9
DEFAULT_BATCH = 1
PREDICT_NODATA = 255


def metadata(session: ort.InferenceSession) -> dict:
    """custom_metadata_map with JSON values decoded (Deepness json.loads each value)."""
    out = {}
    for key, value in session.get_modelmeta().custom_metadata_map.items():
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def overlap_px(tile: int, percent: float) -> int:
    """processing_overlap.py: ProcessingOverlap.get_overlap_px (percent option)."""
    return int(tile * percent / 100 * 2) // 2


def missing_pixels(size: int, tile: int, stride: int) -> int:
    """extent_utils.calculate_extended_processing_extent: pixels added right / top."""
    if size <= tile:
        return tile - size
    return (stride - (size - tile) % stride) % stride


def copy_slices(x_bin, y_bin, x_bins, y_bins, tile, stride, tile_offset=0):
    """tile_params.py @4747a84: get_slice_on_full_image_for_copying + on_tile_image."""
    sx, sy = x_bin * stride, y_bin * stride
    half = max((tile - stride) // 2 - 2 * tile_offset, 0)
    x_min, x_max = sx + half, sx + tile - half - 1
    y_min, y_max = sy + half, sy + tile - half - 1
    if x_bin == 0:
        x_min -= half
    if y_bin == 0:
        y_min -= half
    if x_bin == x_bins - 1:
        x_max += half
    if y_bin == y_bins - 1:
        y_max += half
    x_min, x_max, y_min, y_max = (
        x_min + tile_offset,
        x_max - tile_offset,
        y_min + tile_offset,
        y_max - tile_offset,
    )
    full = np.s_[y_min : y_max + 1, x_min : x_max + 1]
    on_tile = np.s_[
        y_min - sy - tile_offset : y_max + 1 - sy - tile_offset,
        x_min - sx - tile_offset : x_max + 1 - sx - tile_offset,
    ]
    return full, on_tile


def classify(outputs: np.ndarray, threshold: float) -> np.ndarray:
    """map_processor_segmentation._process_tile for one output: (N, [C,] H, W) -> (N, H, W)."""
    result = np.array(outputs, copy=True)
    result[result < threshold] = 0.0
    if result.ndim == 3:
        result = result[:, None]
    if result.shape[1] == 1:
        return (result[:, 0] != 0).astype(np.uint8)
    return np.argmax(result, axis=1).astype(np.uint8)


def box_sum(mask: np.ndarray, k: int) -> np.ndarray:
    """Sum over a k x k window with the border replicated (exact, integer)."""
    r = k // 2
    padded = np.pad(mask.astype(np.int32), r, mode="edge")
    c = np.cumsum(np.cumsum(padded, axis=0), axis=1)
    c = np.pad(c, ((1, 0), (1, 0)))
    h, w = mask.shape
    return c[k : k + h, k : k + w] - c[0:h, k : k + w] - c[k : k + h, 0:w] + c[0:h, 0:w]


def median_blur(img: np.ndarray, ksize: int) -> np.ndarray:
    """cv2.medianBlur(img, ksize) on uint8 (BORDER_REPLICATE)."""
    if ksize <= 1:
        return img
    if img.max(initial=0) <= 1:  # 0/1 mask: median == majority of the k*k window
        return (box_sum(img, ksize) > (ksize * ksize) // 2).astype(np.uint8)
    return ndimage.median_filter(img, size=ksize, mode="nearest")


def regions(mask: np.ndarray) -> dict:
    """Connected-region counts; `deepness_features` = what findContours -> features keeps."""
    eight, n8 = ndimage.label(mask, structure=np.ones((3, 3), int))
    _, n4 = ndimage.label(mask, structure=ndimage.generate_binary_structure(2, 1))
    degenerate = 0
    if n8:
        sizes = np.bincount(eight.ravel())[1:]
        for index, sl in enumerate(ndimage.find_objects(eight)):
            h, w = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
            n = sizes[index]
            # contour < 3 points: single pixel, 1-px straight line (h==1 or w==1 means the
            # component is a full row/column run), or a 1-px diagonal (n == h == w)
            if h == 1 or w == 1 or (n == h == w):
                degenerate += 1
    return {
        "8_connected": int(n8),
        "4_connected": int(n4),
        "deepness_features": int(n8 - degenerate),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("scene")
    ap.add_argument("predict_mask")
    ap.add_argument(
        "--thresh",
        type=float,
        help="probability threshold (default: metadata seg_thresh, else 0.5)",
    )
    ap.add_argument(
        "--small-segment",
        type=int,
        help="remove-small-segments size, 0 = off (default: metadata seg_small_segment, else 9)",
    )
    ap.add_argument(
        "--overlap",
        type=float,
        help="tile overlap in percent (default: metadata tiles_overlap, else 15)",
    )
    ap.add_argument(
        "--tile", type=int, help="tile size px (default: metadata tile_size, else the input shape)"
    )
    ap.add_argument(
        "--resolution-cm",
        type=float,
        help="processing resolution cm/px (default: metadata resolution, else the scene's"
        " pixel size; Deepness's UI default would be 3.0)",
    )
    ap.add_argument(
        "--batch", type=int, help="batch size (default: the model's static batch, else 1)"
    )
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime threads (default 1)")
    ap.add_argument(
        "--landslide-class",
        type=int,
        help="class index of landslide (default: from class_names, else 1)",
    )
    ap.add_argument("--save-mask", help="write the emulated Deepness class mask (scene grid) here")
    args = ap.parse_args()

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(args.model, sess_options=so, providers=["CPUExecutionProvider"])
    meta = metadata(session)
    inp = session.get_inputs()[0]
    in_shape = inp.shape
    channels = in_shape[-3]

    def pick(cli, key, default, cast):
        if cli is not None:
            return cast(cli), "command line"
        if key in meta:
            return cast(meta[key]), f"metadata {key}"
        return (None if default is None else cast(default)), "Deepness default"

    input_tile = in_shape[-1] if isinstance(in_shape[-1], int) else None
    tile, tile_src = pick(args.tile, "tile_size", input_tile, int)
    if tile is None:
        sys.exit("no tile size: give --tile")
    overlap_pct, overlap_src = pick(
        args.overlap,
        "tiles_overlap",
        DEFAULT_OVERLAP_PERCENT,
        int if args.overlap is None else float,
    )
    thresh, thresh_src = pick(args.thresh, "seg_thresh", DEFAULT_THRESHOLD, float)
    small, small_src = pick(args.small_segment, "seg_small_segment", DEFAULT_SMALL_SEGMENT, int)
    batch = args.batch or (in_shape[0] if isinstance(in_shape[0], int) else DEFAULT_BATCH)
    mean = np.array(meta.get("standardization_mean", [0.0] * channels), np.float32)
    std = np.array(meta.get("standardization_std", [1.0] * channels), np.float32)
    names = meta.get("class_names") or meta.get("names")
    if args.landslide_class is not None:
        landslide = args.landslide_class
    elif isinstance(names, dict) and "landslide" in names.values():
        landslide = int(next(k for k, v in names.items() if v == "landslide"))
    else:
        landslide = 1

    with rasterio.open(args.scene) as src:
        res_x, res_y = src.res
        scene_h, scene_w = src.height, src.width
        if args.resolution_cm is not None:
            res_cm, res_src = args.resolution_cm, "command line"
        elif "resolution" in meta:
            res_cm, res_src = float(meta["resolution"]), "metadata resolution"
        else:
            res_cm, res_src = (
                res_x * 100,
                "scene pixel size (Deepness UI default would be 3.0 cm/px)",
            )
        upp = res_cm / 100  # map units (metres) per processing pixel
        width = round(scene_w * res_x / upp)
        height = round(scene_h * res_y / upp)
        resampled = (width, height) != (scene_w, scene_h) or not math.isclose(
            upp, res_x, rel_tol=1e-6
        )
        bands = [min(i, src.count - 1) + 1 for i in range(channels)]
        if resampled:
            image = src.read(
                bands, out_shape=(channels, height, width), resampling=Resampling.bilinear
            )
        else:
            image = src.read(bands)
        profile = src.profile

    ov = overlap_px(tile, overlap_pct)
    stride = tile - ov
    pad_x, pad_y = missing_pixels(width, tile, stride), missing_pixels(height, tile, stride)
    full_w, full_h = width + pad_x, height + pad_y
    x_bins = round((full_w - tile) / stride) + 1
    y_bins = round((full_h - tile) / stride) + 1

    # the extended image: raster at rows [pad_y, pad_y + H), columns [0, W); padding = 0
    extended = np.zeros((full_h, full_w, channels), image.dtype)
    extended[pad_y:, :width] = np.transpose(image, (1, 2, 0))
    del image
    full_result = np.zeros((full_h, full_w), np.uint8)

    if len(session.get_outputs()) > 1:
        print("warning: several outputs; only the first is emulated", file=sys.stderr)
    jobs = [(xb, yb) for yb in range(y_bins) for xb in range(x_bins)]
    for start in range(0, len(jobs), batch):
        chunk = jobs[start : start + batch]
        tiles = np.stack(
            [
                extended[yb * stride : yb * stride + tile, xb * stride : xb * stride + tile]
                for xb, yb in chunk
            ]
        )
        x = np.float32(tiles[:, :, :, :channels] * 1.0 / 255.0)
        x = (x - mean) / std
        x = np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2)), dtype=np.float32)
        if (
            isinstance(in_shape[0], int) and x.shape[0] != in_shape[0]
        ):  # static batch: run one by one
            out = np.concatenate(
                [session.run(None, {inp.name: x[i : i + 1]})[0] for i in range(x.shape[0])]
            )
        else:
            out = session.run(None, {inp.name: x})[0]
        classes = classify(out, thresh)
        for (xb, yb), result in zip(chunk, classes, strict=True):
            offset = 0
            if result.shape[0] != tile or result.shape[1] != tile:
                offset = (tile - result.shape[0]) // 2
            full_sl, tile_sl = copy_slices(xb, yb, x_bins, y_bins, tile, stride, offset)
            full_result[full_sl] = result[tile_sl]

    blur = int(small // 2) * 2 + 1
    full_result = median_blur(full_result, blur)
    deepness = full_result[pad_y : pad_y + height, 0:width]

    if resampled:  # back onto the scene grid (nearest) to compare; approximate
        rows = np.minimum((np.arange(scene_h) + 0.5) * res_y / upp, height - 1).astype(int)
        cols = np.minimum((np.arange(scene_w) + 0.5) * res_x / upp, width - 1).astype(int)
        deepness = deepness[rows][:, cols]

    if args.save_mask:
        profile.update(count=1, dtype="uint8", nodata=None, compress="deflate")
        with rasterio.open(args.save_mask, "w", **profile) as dst:
            dst.write(deepness, 1)

    with rasterio.open(args.predict_mask) as src:
        predicted = src.read(1)
        nodata = src.nodata if src.nodata is not None else PREDICT_NODATA
    if predicted.shape != deepness.shape:
        sys.exit(f"shape mismatch: predict {predicted.shape} vs scene {deepness.shape}")
    valid = predicted != nodata
    a = (deepness == landslide) & valid
    b = (predicted == 1) & valid
    inter, union = int((a & b).sum()), int((a | b).sum())

    two_class_softmax = session.get_outputs()[0].shape[-3] == 2
    report = {
        "model": os.path.abspath(args.model),
        "scene": os.path.abspath(args.scene),
        "predict_mask": os.path.abspath(args.predict_mask),
        "parameters": {
            "tile_size": tile,
            "tile_size_from": tile_src,
            "tiles_overlap_percent": overlap_pct,
            "tiles_overlap_from": overlap_src,
            "overlap_px": ov,
            "stride_px": stride,
            "half_overlap_cut_px": ov // 2,
            "seg_thresh": thresh,
            "seg_thresh_from": thresh_src,
            "seg_small_segment": small,
            "seg_small_segment_from": small_src,
            "median_blur_ksize": blur,
            "resolution_cm_per_px": res_cm,
            "resolution_from": res_src,
            "scene_pixel_size_m": [res_x, res_y],
            "resampled": resampled,
            "batch_size": batch,
            "bands_used": bands,
            "standardization_mean": mean.tolist(),
            "standardization_std": std.tolist(),
            "landslide_class_index": landslide,
            "processed_area": "Entire layer",
            "padding_fill": 0,
        },
        "grid": {
            "scene_px": [height, width],
            "extended_px": [full_h, full_w],
            "padding_px": {"top_rows": pad_y, "right_cols": pad_x},
            "bins_xy": [x_bins, y_bins],
            "tiles": x_bins * y_bins,
        },
        "threshold_note": (
            "2-channel output: values < seg_thresh zeroed, then argmax (ties -> class 0); "
            "for softmax this is p1 > 0.5 when seg_thresh <= 0.5, p1 >= seg_thresh otherwise"
            if two_class_softmax
            else "1-channel output: class = (p >= seg_thresh) & (p != 0)"
        ),
        "iou_landslide": inter / union if union else float("nan"),
        "pixels": {
            "valid": int(valid.sum()),
            "excluded_predict_nodata": int((~valid).sum()),
            "deepness_landslide": int(a.sum()),
            "predict_landslide": int(b.sum()),
            "intersection": inter,
            "union": union,
            "deepness_only": int((a & ~b).sum()),
            "predict_only": int((b & ~a).sum()),
        },
        "regions": {
            "deepness": regions(a),
            "predict": regions(b),
            "note": "Deepness polygonises with cv2.findContours: 8-connected regions, "
            "minus contours of < 3 points (single pixels, 1-px straight lines) = "
            "deepness_features; quakeslide predict labels 4-connected regions",
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
