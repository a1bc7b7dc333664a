"""Precision-recall curve of a threshold sweep, with the used and the F1-best thresholds."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from quakeslide.reporting.figure_files import plt, save_figure


def plot_pr_curves(
    curves: dict[str, dict[str, np.ndarray]], thresholds: dict[str, float], path: Path
) -> Path:
    """`curves`: model name -> ThresholdSweep.curve(); `thresholds`: the one each model used."""
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for name, curve in curves.items():
        used = int(np.argmin(np.abs(curve["threshold"] - thresholds[name])))
        best = int(np.argmax(curve["f1"]))
        label = f"{name} at {thresholds[name]:.3g}: F1 {curve['f1'][used]:.3f}; best"
        label += f" {curve['f1'][best]:.3f}"
        label += f" at {curve['threshold'][best]:.2f}"
        (line,) = ax.plot(curve["recall"], curve["precision"], label=label)
        ax.plot(curve["recall"][used], curve["precision"][used], "o", color=line.get_color())
        ax.plot(curve["recall"][best], curve["precision"][best], "*", ms=12, color=line.get_color())
    ax.set(
        xlabel="recall",
        ylabel="precision",
        xlim=(0, 1),
        ylim=(0, 1.02),
        title="Pixel precision-recall (o: threshold used, *: F1-best)",
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    return save_figure(fig, path)
