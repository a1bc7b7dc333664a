"""A predicted inventory against a truth inventory: the event figures side by side, and the
landslides matched one to one where the two cover the same ground."""

from __future__ import annotations

import numpy as np
import shapely
from scipy import stats

from quakeslide.area_classes import AREA_CLASSES, area_class

MATCH_IOU = 0.5


def compare_inventories(
    predicted: np.ndarray,
    truth: np.ndarray,
    ground: tuple[float, float, float, float],
    exponents: tuple[float | None, float | None],
) -> dict:
    """Ratios of count and area, the difference of the tail exponents (predicted - truth),
    the two-sample KS distance of the area distributions, and per size class the true
    landslides inside the predicted ground that a predicted polygon matches at IoU >= 0.5."""
    areas_p, areas_t = shapely.area(predicted), shapely.area(truth)
    inside = truth[shapely.intersects(truth, shapely.box(*ground))]
    overlaps = len(inside) > 0
    result = {
        "count_ratio": len(predicted) / len(truth) if len(truth) else None,
        "area_ratio": float(areas_p.sum() / areas_t.sum()) if areas_t.sum() else None,
        "exponent_difference": (
            exponents[0] - exponents[1] if None not in exponents else None
        ),
        "ks_distance": (
            float(stats.ks_2samp(areas_p, areas_t).statistic)
            if len(areas_p) and len(areas_t) else None
        ),
        "overlap": overlaps,
        "matched_by_size": _matches(predicted, inside) if overlaps else {},
        "match_rule": f"a true landslide is matched by a predicted polygon with IoU >="
        f" {MATCH_IOU}; only true landslides on the predicted ground count",
    }  # fmt: skip
    return result


def _matches(predicted: np.ndarray, truth: np.ndarray) -> dict[str, dict[str, float]]:
    best = np.zeros(len(truth))
    if len(predicted):
        which, candidate = shapely.STRtree(predicted).query(truth, predicate="intersects")
        shared = shapely.area(shapely.intersection(truth[which], predicted[candidate]))
        union = shapely.area(shapely.union(truth[which], predicted[candidate]))
        np.maximum.at(best, which, shared / union)
    classes = [area_class(float(a), "m2") for a in shapely.area(truth)]
    table = {}
    for name in [*AREA_CLASSES["m2"], "all"]:
        chosen = np.array([name in (c, "all") for c in classes], dtype=bool)
        count = int(chosen.sum())
        matched = int((best[chosen] >= MATCH_IOU).sum())
        table[name] = {"truth": count, "matched": matched,
                       "rate": matched / count if count else None}  # fmt: skip
    return table
