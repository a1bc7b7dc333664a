"""The frequency-area distribution of an inventory, with its two fits drawn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from quakeslide.reporting.figure_files import plt, save_figure


def plot_fad(
    centres_m2: np.ndarray,
    density: np.ndarray,
    tail: tuple[float, float, float] | None,
    inverse_gamma: tuple[np.ndarray, np.ndarray] | None,
    path: Path,
    truth: Any = None,
) -> Path:
    """`tail`: (exponent, cutoff m2, share of landslides in the tail); `inverse_gamma`:
    (areas, densities) of the fitted curve; `truth`: a truth inventory's FAD (`centres_m2`,
    `density`), drawn beside."""
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    shown = density > 0
    ax.loglog(centres_m2[shown], density[shown], "o", color="0.25", ms=4, label="mapped")
    if truth is not None:
        kept = truth.density > 0
        ax.loglog(truth.centres_m2[kept], truth.density[kept], "s", mfc="none",
                  color="tab:green", ms=5, label="truth")  # fmt: skip
    if inverse_gamma is not None:
        ax.loglog(*inverse_gamma, "-", color="tab:blue", label="inverse gamma (whole)")
    if tail is not None:
        exponent, cutoff, share = tail
        areas = np.logspace(np.log10(cutoff), np.log10(centres_m2.max()), 50)
        fitted = share * (exponent - 1) / cutoff * (areas / cutoff) ** -exponent
        ax.loglog(areas, fitted, "--", color="tab:red",
                  label=f"power-law tail, beta {exponent:.2f}")  # fmt: skip
        ax.axvline(cutoff, color="tab:red", lw=0.6, alpha=0.5)
    ax.set(xlabel="landslide area A (m2)", ylabel="probability density p(A) (1/m2)",
           title="Frequency-area distribution")  # fmt: skip
    ax.legend(fontsize=8)
    return save_figure(fig, path)
