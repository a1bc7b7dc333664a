"""F1, precision and recall as more pixels about the drawn outlines are forgiven."""

from __future__ import annotations

from pathlib import Path

from quakeslide.reporting.figure_files import plt, save_figure


def plot_outline_curves(curves: dict[str, list[dict]], path: Path) -> Path:
    """`curves`: model name -> the evaluation's `outline_curve` (one row per pixel count)."""
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    share = ax.twinx()
    for name, rows in curves.items():
        pixels = [row["pixels"] for row in rows]
        (line,) = ax.plot(pixels, [row["f1"] for row in rows], "o-", label=f"{name}: F1")
        colour = line.get_color()
        ax.plot(pixels, [row["precision"] for row in rows], "--", color=colour, alpha=0.6,
                label=f"{name}: precision")  # fmt: skip
        ax.plot(pixels, [row["recall"] for row in rows], ":", color=colour, alpha=0.8,
                label=f"{name}: recall")  # fmt: skip
    first = next(iter(curves.values()))
    share.bar([row["pixels"] for row in first], [100 * row["left_out"] for row in first],
              color="grey", alpha=0.15, width=0.6)  # fmt: skip
    share.set_ylabel("pixels left out (%, bars)")
    ax.set_zorder(share.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.set(
        xlabel="pixels about every drawn outline left out",
        ylabel="score (landslide class)",
        title="Scores with the drawn outlines forgiven",
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    return save_figure(fig, path)
