"""Landslide volume from area, V = alpha * A^gamma per landslide (A in m2, V in m3), summed,
with an interval by Monte Carlo.

Larsen et al. (2010), landslide source areas: soil log10 alpha = -0.649 +- 0.021, gamma =
1.262 +- 0.009; bedrock log10 alpha = -0.63 +- 0.06, gamma = 1.41 +- 0.02. Guzzetti et al.
(2009): V = 0.074 A^1.450 (no parameter uncertainty used here). Each draw takes the
parameters from their uncertainties (independent normals) and each landslide's volume off
the fit by a lognormal factor (one standard deviation: x / 2, the low end of the factor of
2-3 single landslides scatter by); the interval is the draws' 5th to 95th percentile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class VolumeModel:
    log10_alpha: float
    log10_alpha_sd: float
    gamma: float
    gamma_sd: float
    source: str


VOLUME_MODELS = {
    "larsen-soil": VolumeModel(-0.649, 0.021, 1.262, 0.009, "Larsen et al. 2010, soil"),
    "larsen-bedrock": VolumeModel(-0.63, 0.06, 1.41, 0.02, "Larsen et al. 2010, bedrock"),
    "guzzetti": VolumeModel(float(np.log10(0.074)), 0.0, 1.450, 0.0, "Guzzetti et al. 2009"),
}
SCATTER_FACTOR = 2.0  # one standard deviation of a single landslide about the fit
DRAWS = 2000


def volumes_m3(areas_m2: np.ndarray, model: VolumeModel) -> np.ndarray:
    """Each landslide's volume at the fit's central parameters."""
    return 10**model.log10_alpha * np.asarray(areas_m2, dtype=float) ** model.gamma


@dataclass(frozen=True)
class VolumeTotal:
    model: str
    median: float  # m3, of the Monte Carlo draws
    low: float  # 5th percentile
    high: float  # 95th percentile
    covers: str = (
        "5-95 % of draws over the fit's parameter uncertainty and a lognormal scatter of"
        f" each landslide about the fit (one standard deviation x {SCATTER_FACTOR:g})"
    )


def total_volume(areas_m2: np.ndarray, name: str, draws: int = DRAWS, seed: int = 0) -> VolumeTotal:
    model = VOLUME_MODELS[name]
    areas = np.asarray(areas_m2, dtype=float)
    if not len(areas):
        return VolumeTotal(name, 0.0, 0.0, 0.0)
    rng = np.random.default_rng(seed)
    log_areas = np.log10(areas)
    sigma = np.log10(SCATTER_FACTOR)
    totals = np.empty(draws)
    for k in range(draws):
        log_alpha = rng.normal(model.log10_alpha, model.log10_alpha_sd)
        gamma = rng.normal(model.gamma, model.gamma_sd)
        scatter = rng.normal(0.0, sigma, len(areas))
        totals[k] = np.sum(10 ** (log_alpha + gamma * log_areas + scatter))
    low, median, high = np.percentile(totals, [5, 50, 95])
    return VolumeTotal(name, float(median), float(low), float(high))
