"""Small CSV tables written atomically."""

from __future__ import annotations

import csv
from pathlib import Path

from quakeslide.io.raster import atomic_path


def write_csv(path: Path, rows: list[dict]) -> None:
    """Rows with the same keys; the header is the first row's keys."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
