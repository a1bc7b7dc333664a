"""What a window of a labelled dataset is worth to label: how unsure a model is of it, and
how many of the outlines `suggest` would pre-fill there a mapper keeps."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from quakeslide.classes import IGNORE
from quakeslide.data.dataset import TileDataset
from quakeslide.device import ComputePlan
from quakeslide.evaluation.objects import FOUR_CONNECTED, match_objects
from quakeslide.inference.ensemble import load_models
from quakeslide.inference.uncertainty import Measure, pixel_uncertainty
from quakeslide.options import SuggestOptions

BATCH = 8  # tiles scored at once
MIN_PREFILLED = SuggestOptions().min_pixels
THRESHOLD = 0.5  # the outlines at the threshold the held-out tiles are scored at


@dataclass(frozen=True)
class WindowScore:
    """How unsure the model is of a window, and what its pre-filled outlines are worth."""

    uncertainty: float  # mean bits over the valid pixels: entropy or view disagreement
    prefilled: int  # predicted regions of at least MIN_PREFILLED px (suggest's chip outlines)
    kept: int  # of them, those a mapper would keep: IoU >= 0.5 with a true landslide
    truth: int  # true landslides in the window


def score_windows(
    checkpoint: Path,
    tiles: TileDataset,
    stems: list[str],
    plan: ComputePlan,
    measure: Measure = "entropy",
) -> dict[str, WindowScore]:
    """Each of the tiles `stems` (of `tiles`) with its uncertainty by `measure` (nodata, 255
    in the mask, left out: it says where the image is, not what it holds) and its pre-filled
    outlines (the plain prediction, as suggest's chips) against the true mask."""
    if not stems:
        return {}
    engine, _ = load_models(checkpoint, plan)
    index = {stem: i for i, stem in enumerate(tiles.stems)}
    scores = {}
    for start in range(0, len(stems), BATCH):
        batch = [index[stem] for stem in stems[start : start + BATCH]]
        images = np.stack([tiles.images[i] for i in batch])
        probability = engine.predict(images)
        uncertain = pixel_uncertainty(engine, measure, images, probability)
        for i, prob, pixel_bits in zip(batch, probability, uncertain, strict=True):
            valid = tiles.masks[i] != IGNORE
            bits = float(pixel_bits[valid].mean()) if valid.any() else 0.0
            outlines = match_objects(_without_specks(prob >= THRESHOLD), tiles.masks[i]).summary()
            counts = outlines["by_class"]["all"]
            kept = counts["predicted"] - counts["false_alarms"]
            scores[tiles.stems[i]] = WindowScore(bits, counts["predicted"], kept, counts["truth"])
    return scores


def _without_specks(mask: np.ndarray) -> np.ndarray:
    """The mask without regions under MIN_PREFILLED px, as suggest leaves them out of chips."""
    labels, _ = ndimage.label(mask, structure=FOUR_CONNECTED)
    sizes = np.bincount(labels.ravel())
    return (sizes >= MIN_PREFILLED)[labels] & mask
