"""Error panels like the paper's comparisons: image, truth, prediction and an error overlay."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quakeslide.classes import IGNORE, LANDSLIDE
from quakeslide.reporting.figure_files import plt, save_figure

ERROR_COLOURS = {  # RGB, chosen to stay apart for red-green colour-blind readers
    "true positive": (255, 214, 0),
    "false positive": (230, 25, 75),
    "false negative": (0, 130, 255),
}


@dataclass(frozen=True)
class ModelView:
    """One model's prediction of a tile, for a panel column."""

    name: str
    predicted: np.ndarray  # bool (H, W)
    f1: float


@dataclass(frozen=True)
class PanelTile:
    stem: str
    image: np.ndarray  # uint8 (C, H, W)
    truth: np.ndarray  # 0 / 1 / 255 (H, W)
    views: list[ModelView]


def error_overlay(image: np.ndarray, predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8: the tile in grey, TP / FP / FN painted in ERROR_COLOURS."""
    grey = rgb(image).mean(axis=2, keepdims=True)
    out = np.repeat(grey * 0.6, 3, axis=2)
    valid, true = truth != IGNORE, truth == LANDSLIDE
    masks = {
        "true positive": predicted & true & valid,
        "false positive": predicted & ~true & valid,
        "false negative": ~predicted & true & valid,
    }
    for name, where in masks.items():
        out[where] = ERROR_COLOURS[name]
    return out.astype(np.uint8)


def rgb(image: np.ndarray) -> np.ndarray:
    """(C, H, W) -> (H, W, 3) for display: grey for one band, the first three otherwise."""
    bands = image[:3] if image.shape[0] >= 3 else np.repeat(image[:1], 3, axis=0)
    return np.moveaxis(bands, 0, -1).astype(np.float32)


def plot_panels(tiles: list[PanelTile], path: Path, title: str) -> Path:
    """One row per tile: image, truth, then each model's prediction and its errors."""
    columns = 2 + 2 * len(tiles[0].views)
    fig, axes = plt.subplots(
        len(tiles), columns, figsize=(2.3 * columns, 2.4 * len(tiles) + 0.6), squeeze=False
    )
    for row, tile in zip(axes, tiles, strict=True):
        panels = [("image", rgb(tile.image).astype(np.uint8)), ("truth", _binary(tile.truth == 1))]
        for view in tile.views:
            panels.append((f"{view.name}", _binary(view.predicted)))
            overlay = error_overlay(tile.image, view.predicted, tile.truth)
            panels.append((f"{view.name} errors, F1 {view.f1:.2f}", overlay))
        for ax, (label, picture) in zip(row, panels, strict=True):
            ax.imshow(picture, interpolation="nearest")
            ax.set_title(label, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(tile.stem, fontsize=6)
    handles = [
        plt.Rectangle((0, 0), 1, 1, color=np.array(colour) / 255)
        for colour in ERROR_COLOURS.values()
    ]
    fig.legend(handles, list(ERROR_COLOURS), loc="lower center", ncol=3, fontsize=8)
    fig.suptitle(title, fontsize=10)
    legend_room = 0.5 / fig.get_figheight()  # half an inch, whatever the number of rows
    return save_figure(fig, path, rect=(0, legend_room, 1, 1))


def _binary(mask: np.ndarray) -> np.ndarray:
    return np.where(mask, 255, 0).astype(np.uint8)[..., None].repeat(3, axis=2)
