"""Object-level scores: landslides as 4-connected regions, matched by intersection over union.

Rule: a true landslide counts as detected when one predicted region overlaps it with
IoU >= 0.5. At that threshold a region can match at most one partner, so matching is
one-to-one without a search. A predicted region that matches no true landslide is a
false alarm. Regions are sized by their own area (m2 when the pixel size is known, else
pixels) and counted in the size classes of `quakeslide.area_classes`. Ignore pixels
(255 in the truth) belong to neither side.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from quakeslide.area_classes import AREA_CLASSES, area_class, class_bounds
from quakeslide.classes import IGNORE, LANDSLIDE

MATCH_IOU = 0.5
FOUR_CONNECTED = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]])
COUNTS = ("truth", "detected", "predicted", "false_alarms")


@dataclass
class ObjectCounts:
    """Per size class: true regions, detected ones, predicted regions, false alarms."""

    unit: str
    by_class: dict[str, dict[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in AREA_CLASSES[self.unit]:
            self.by_class.setdefault(name, dict.fromkeys(COUNTS, 0))

    def __add__(self, other: ObjectCounts) -> ObjectCounts:
        merged = {
            name: {key: counts[key] + other.by_class[name][key] for key in COUNTS}
            for name, counts in self.by_class.items()
        }
        return ObjectCounts(self.unit, merged)

    def summary(self) -> dict:
        rows = dict(self.by_class)
        rows["all"] = {key: sum(c[key] for c in self.by_class.values()) for key in COUNTS}
        return {
            "rule": f"a true landslide is detected when a predicted region has IoU >= {MATCH_IOU}"
            " with it; unmatched predicted regions are false alarms; 4-connected regions",
            "area_unit": self.unit,
            "area_classes": class_bounds(self.unit),
            "by_class": {
                name: {
                    **counts,
                    "detection_rate": _rate(counts["detected"], counts["truth"]),
                    "false_alarm_rate": _rate(counts["false_alarms"], counts["predicted"]),
                }
                for name, counts in rows.items()
            },
        }


def match_objects(
    predicted: np.ndarray, truth: np.ndarray, pixel_area_m2: float | None = None
) -> ObjectCounts:
    """Match the regions of a predicted bool mask and a 0/1/255 truth mask of one tile."""
    valid = truth != IGNORE
    truth_labels, n_truth = ndimage.label((truth == LANDSLIDE) & valid, structure=FOUR_CONNECTED)
    pred_labels, n_pred = ndimage.label(predicted.astype(bool) & valid, structure=FOUR_CONNECTED)
    truth_area = np.bincount(truth_labels.ravel(), minlength=n_truth + 1)
    pred_area = np.bincount(pred_labels.ravel(), minlength=n_pred + 1)
    both = (truth_labels > 0) & (pred_labels > 0)
    pairs = truth_labels[both].astype(np.int64) * (n_pred + 1) + pred_labels[both]
    pair_ids, overlap = np.unique(pairs, return_counts=True)
    t_ids, p_ids = np.divmod(pair_ids, n_pred + 1)
    iou = overlap / (truth_area[t_ids] + pred_area[p_ids] - overlap)
    matched = iou >= MATCH_IOU
    detected_truth, matched_pred = set(t_ids[matched].tolist()), set(p_ids[matched].tolist())

    unit = "px" if pixel_area_m2 is None else "m2"
    scale = 1.0 if pixel_area_m2 is None else pixel_area_m2
    counts = ObjectCounts(unit)
    for region in range(1, n_truth + 1):
        size = counts.by_class[area_class(truth_area[region] * scale, unit)]
        size["truth"] += 1
        size["detected"] += region in detected_truth
    for region in range(1, n_pred + 1):
        size = counts.by_class[area_class(pred_area[region] * scale, unit)]
        size["predicted"] += 1
        size["false_alarms"] += region not in matched_pred
    return counts


def _rate(numerator: int, denominator: int) -> float | None:
    """None where nothing was there to count (no true landslide of that size)."""
    return numerator / denominator if denominator else None
