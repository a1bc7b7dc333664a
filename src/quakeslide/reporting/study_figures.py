"""The study's figures, shaped like the paper's Figs 7-9."""

from __future__ import annotations

from pathlib import Path

from quakeslide.reporting.figure_files import plt, save_figure

METRICS = ("precision", "recall", "f1", "iou")
LABELS = {"precision": "Precision", "recall": "Recall", "f1": "F1", "iou": "IoU"}


SIZE_LABELS = {
    "tiles": "training tiles (before x augmentation)",
    "scenes": "training scenes (all their tiles)",
}
TRANSFER_STYLES = {
    "scratch": ("s-", "scratch"),
    "adapted": ("o-", "adapted (all weights)"),
    "adapted-frozen": ("D--", "adapted (encoder frozen)"),
    "scratch+self": ("s:", "scratch, self-trained"),
    "adapted+self": ("o:", "adapted, self-trained"),
    "adapted-frozen+self": ("D:", "adapted (encoder frozen), self-trained"),
}


def plot_study(table: list[dict], folder: Path, size_unit: str = "tiles") -> list[Path]:
    """metric-vs-size per model (fold spread as error bars), and LinkNet's gain over U-Net."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for model in dict.fromkeys(t["model"] for t in table):
        if model != "zero-shot":  # one point: drawn on the transfer curve
            lines = [t for t in table if t["model"] == model]
            written.append(_metrics_vs_size(lines, folder, SIZE_LABELS[size_unit]))
    models = {t["model"] for t in table}
    if {"unet", "linknet"} <= models:
        written.append(_relative_gain(table, folder))
    if {"scratch", "adapted", "zero-shot"} <= models:
        written.append(_transfer_curve(table, folder, size_unit))
    return written


def _transfer_curve(table: list[dict], folder: Path, size_unit: str) -> Path:
    """F1 vs labelled tiles from scratch and from the parent, the parent as it is at 0."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for model, (style, label) in TRANSFER_STYLES.items():
        lines = [t for t in table if t["model"] == model]
        sizes, f1, spread = ([t[k] for t in lines] for k in ("size", "f1_mean", "f1_std"))
        if lines:
            ax.errorbar(sizes, f1, yerr=spread, fmt=style, capsize=3, label=label)
    (zero,) = [t for t in table if t["model"] == "zero-shot"]
    ax.errorbar([0], [zero["f1_mean"]], yerr=[zero["f1_std"]], fmt="k^", capsize=3,
                label="zero-shot (the parent as it is)")  # fmt: skip
    ax.axhline(zero["f1_mean"], color="k", linestyle=":", linewidth=1)
    ax.set(xlabel=f"labelled {size_unit} of the new event",
           ylabel="validation F1 (landslide class)",
           title=f"F1 vs labelled {size_unit}: zero-shot, scratch, adapted")  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, folder / "transfer_f1_vs_tiles.png")


def _metrics_vs_size(lines: list[dict], folder: Path, xlabel: str) -> Path:
    model = lines[0]["model"]
    sizes = [t["size"] for t in lines]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for metric in METRICS:
        ax.errorbar(
            sizes,
            [t[f"{metric}_mean"] for t in lines],
            yerr=[t[f"{metric}_std"] for t in lines],
            marker="o",
            capsize=3,
            label=LABELS[metric],
        )
    ax.set(
        xlabel=xlabel,
        ylabel="validation score (landslide class)",
        title=f"{model}: accuracy vs sample size ({lines[0]['folds']} fold(s))",
        xticks=sizes,
    )
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, folder / f"{model}_metrics_vs_size.png")


def _relative_gain(table: list[dict], folder: Path) -> Path:
    """(LinkNet - U-Net) / U-Net in percent, per size and metric (the paper's Fig 9)."""
    unet = {t["size"]: t for t in table if t["model"] == "unet"}
    linknet = {t["size"]: t for t in table if t["model"] == "linknet"}
    sizes = sorted(set(unet) & set(linknet))
    fig, ax = plt.subplots(figsize=(5.5, 4))
    width = 0.8 / len(METRICS)
    for i, metric in enumerate(METRICS):
        gains = [
            100
            * (linknet[n][f"{metric}_mean"] - unet[n][f"{metric}_mean"])
            / max(unet[n][f"{metric}_mean"], 1e-9)
            for n in sizes
        ]
        positions = [j + (i - (len(METRICS) - 1) / 2) * width for j in range(len(sizes))]
        ax.bar(positions, gains, width, label=LABELS[metric])
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set(
        xticks=range(len(sizes)),
        xticklabels=[str(n) for n in sizes],
        xlabel="training tiles",
        ylabel="LinkNet relative to U-Net (%)",
        title="LinkNet's relative improvement over U-Net",
    )
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    return save_figure(fig, folder / "linknet_vs_unet.png")


SELECTION_STYLES = {"uncertainty": "o-", "disagreement": "^-", "random": "s--", "mixed": "D-."}


def plot_selection_curves(rows: list[dict], curves: list[dict], folder: Path) -> Path:
    """F1 vs labelled windows per strategy: the mean over repeats with its spread, each
    repeat as a faint dot, the parent as it is at 0."""
    folder.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    zero = [c for c in curves if c["strategy"] == "zero-shot"]
    for strategy, style in SELECTION_STYLES.items():
        line = zero + [c for c in curves if c["strategy"] == strategy]
        if len(line) == len(zero):
            continue
        sizes = [c["size"] for c in line]
        (drawn,) = ax.plot(sizes, [c["f1_mean"] for c in line], style, label=strategy)
        ax.fill_between(sizes, [c["f1_mean"] - c["f1_std"] for c in line],
                        [c["f1_mean"] + c["f1_std"] for c in line],
                        color=drawn.get_color(), alpha=0.15)  # fmt: skip
        repeats = [r for r in rows if r["strategy"] == strategy]
        ax.plot([r["size"] for r in repeats], [r["f1"] for r in repeats], ".",
                color=drawn.get_color(), alpha=0.4)  # fmt: skip
    ax.set(xlabel="labelled windows of the new event", ylabel="held-out F1 (landslide class)",
           title="Which windows to label: by uncertainty or at random")  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, folder / "f1_vs_windows.png")
