"""Per-epoch training curves of one or several runs (a run, or the folds of a cv run)."""

from __future__ import annotations

from pathlib import Path

from quakeslide.reporting.figure_files import plt, save_figure


def plot_training_curves(runs: dict[str, list[dict[str, float]]], path: Path) -> Path:
    """`runs`: name -> metrics.csv rows. Left: losses; right: validation F1 and IoU."""
    fig, (losses, scores) = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, rows in runs.items():
        epochs = [r["epoch"] for r in rows]
        prefix = f"{name} " if len(runs) > 1 else ""
        (line,) = losses.plot(epochs, [r["loss"] for r in rows], label=f"{prefix}train")
        losses.plot(
            epochs,
            [r["val_loss"] for r in rows],
            "--",
            color=line.get_color(),
            label=f"{prefix}val",
        )
        scores.plot(epochs, [r["val_f1"] for r in rows], marker="o", ms=3, label=f"{prefix}F1")
        scores.plot(
            epochs, [r["val_iou"] for r in rows], ":", color=scores.lines[-1].get_color(),
            label=f"{prefix}IoU",
        )  # fmt: skip
    losses.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    scores.set(xlabel="epoch", ylabel="landslide class", title="validation F1 / IoU")
    for ax in (losses, scores):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return save_figure(fig, path)
