"""The frequency-area distribution (FAD) of an inventory and the two fits landslide science
uses: the power-law tail by maximum likelihood with the cutoff of smallest Kolmogorov-Smirnov
distance (Clauset, Shalizi & Newman 2009, the `powerlaw` package), and the three-parameter
inverse gamma of the whole distribution, rollover included (Malamud et al. 2004)."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

MIN_TAIL = 50  # fewer landslides above the cutoff: the exponent is not trusted (Clauset et al.)
MIN_FIT = 30  # fewer landslides in all: no fit is tried
# More distinct areas than this: the cutoff is searched among this many of them, spaced
# evenly in log area, instead of all (each candidate costs a fit over the whole inventory:
# 50,000 landslides took 200 s with every area a candidate)
MAX_CUTOFFS = 200
BINS_PER_DECADE = 10


@dataclass(frozen=True)
class Fad:
    """Non-cumulative probability density p(A) on logarithmic bins (1 / m2)."""

    centres_m2: np.ndarray  # geometric centre of each bin
    density: np.ndarray  # count / (N * bin width); 0 where a bin is empty


def frequency_density(areas_m2: np.ndarray, bins_per_decade: int = BINS_PER_DECADE) -> Fad:
    areas = np.asarray(areas_m2, dtype=float)
    low, high = np.log10(areas.min()), np.log10(areas.max())
    count = max(1, int(np.ceil((high - low) * bins_per_decade)))
    edges = np.logspace(low, high + 1e-9, count + 1)
    counts, _ = np.histogram(areas, edges)
    return Fad(np.sqrt(edges[:-1] * edges[1:]), counts / (len(areas) * np.diff(edges)))


@dataclass(frozen=True)
class TailFit:
    """p(A) ~ A^-exponent for A >= cutoff."""

    exponent: float  # beta, the exponent of the density (not of the cumulative)
    exponent_ci: tuple[float, float]  # 95 %: exponent -+ 1.96 standard errors
    cutoff_m2: float
    n_tail: int
    ks: float  # Kolmogorov-Smirnov distance of the tail from the fitted power law


def fit_tail(areas_m2: np.ndarray) -> TailFit:
    """The power-law tail: exponent by maximum likelihood, cutoff by the smallest KS
    distance; ValueError (its reason) where too few landslides lie in the tail."""
    import powerlaw  # imports matplotlib: only where a tail is fitted

    areas = np.asarray(areas_m2, dtype=float)
    if len(areas) < MIN_FIT:
        raise ValueError(f"{len(areas)} landslides: a tail needs at least {MIN_FIT}")
    logging.getLogger("powerlaw").setLevel(logging.ERROR)
    candidates = np.unique(areas)[:-1]
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")
        if len(candidates) <= MAX_CUTOFFS:
            fit = powerlaw.Fit(areas, discrete=False, verbose=False)
        else:
            fits = [
                powerlaw.Fit(areas, xmin=float(cutoff), discrete=False, verbose=False)
                for cutoff in _spread(candidates[: len(candidates) - MIN_TAIL], MAX_CUTOFFS)
            ]
            fit = min(fits, key=lambda candidate: candidate.power_law.D)
    n_tail = int(fit.n_tail)
    if n_tail < MIN_TAIL:
        raise ValueError(
            f"{n_tail} landslides above the best cutoff ({fit.xmin:.0f} m2): a tail needs"
            f" at least {MIN_TAIL}"
        )
    law = fit.power_law
    exponent, error = float(law.alpha), float(law.standard_err)
    return TailFit(
        exponent=exponent,
        exponent_ci=(exponent - 1.96 * error, exponent + 1.96 * error),
        cutoff_m2=float(fit.xmin),
        n_tail=n_tail,
        ks=float(law.D),
    )


def _spread(values: np.ndarray, count: int) -> np.ndarray:
    """About `count` of the sorted `values`, the nearest to even steps in log value."""
    steps = np.geomspace(values[0], values[-1], count)
    return values[np.unique(np.searchsorted(values, steps).clip(0, len(values) - 1))]


@dataclass(frozen=True)
class InverseGammaFit:
    """p(A) = 1 / (a Gamma(rho)) [a / (A - s)]^(rho + 1) exp(-a / (A - s)): scipy's
    invgamma(rho, loc=s, scale=a); its tail exponent is rho + 1."""

    rho: float
    a_m2: float
    s_m2: float

    @property
    def rollover_m2(self) -> float:
        """The most frequent area: the density's maximum."""
        return self.a_m2 / (self.rho + 1) + self.s_m2

    def density(self, areas_m2: np.ndarray) -> np.ndarray:
        return stats.invgamma.pdf(areas_m2, self.rho, loc=self.s_m2, scale=self.a_m2)


def fit_inverse_gamma(areas_m2: np.ndarray) -> InverseGammaFit:
    """Maximum likelihood of all three parameters, started from Malamud et al.'s shape
    (rho 1.4) scaled to the inventory; ValueError where there are too few landslides."""
    areas = np.asarray(areas_m2, dtype=float)
    if len(areas) < MIN_FIT:
        raise ValueError(f"{len(areas)} landslides: the inverse gamma needs at least {MIN_FIT}")
    median = float(np.median(areas))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        rho, s, a = stats.invgamma.fit(areas, 1.4, loc=0.0, scale=median)
    if not (rho > 0 and a > 0 and s < areas.min()):
        raise ValueError("the inverse gamma fit did not converge")
    return InverseGammaFit(rho=float(rho), a_m2=float(a), s_m2=float(s))
