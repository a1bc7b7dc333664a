"""matplotlib without a display, and figures saved atomically."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from quakeslide.io.raster import atomic_path  # noqa: E402

__all__ = ["plt", "save_figure"]


def save_figure(
    fig: plt.Figure, path: Path, dpi: int = 120, rect: tuple[float, ...] = (0, 0, 1, 1)
) -> Path:
    """`rect`: the part of the figure tight_layout fills (room left for legends, titles)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout(rect=rect)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)
    return path
