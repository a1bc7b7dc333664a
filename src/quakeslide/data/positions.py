"""Where each tile of a dataset sits in its source scene, for spatial grouping and mosaics.

Positions come from tiles.csv when the dataset was made by `quakeslide tile`, else from
tile names that encode pixel offsets, such as `sa2_190927_<row0>_<row1>_<col0>_<col1>`.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from quakeslide.folders import DatasetFolder

OFFSET_NAME = re.compile(r"^(?P<scene>.+?)_(?P<r0>\d+)_(?P<r1>\d+)_(?P<c0>\d+)_(?P<c1>\d+)$")


@dataclass(frozen=True)
class TilePosition:
    scene: str
    row: int
    col: int
    height: int
    width: int

    def block(self, block_px: int) -> str:
        """Id of the square spatial block (side `block_px`) holding the tile's top-left pixel."""
        return f"{self.scene}_{self.row // block_px}_{self.col // block_px}"


def position_from_name(stem: str) -> TilePosition | None:
    match = OFFSET_NAME.match(stem)
    if match is None:
        return None
    r0, r1, c0, c1 = (int(match[k]) for k in ("r0", "r1", "c0", "c1"))
    if r1 <= r0 or c1 <= c0:
        return None
    return TilePosition(match["scene"], r0, c0, r1 - r0, c1 - c0)


def tile_positions(dataset: Path, stems: list[str]) -> dict[str, TilePosition]:
    """Positions of the stems that have one (tiles.csv first, then offsets in names)."""
    index = DatasetFolder(Path(dataset)).tiles_csv
    positions: dict[str, TilePosition] = {}
    if index.exists():
        with open(index, newline="") as f:
            for row in csv.DictReader(f):
                positions[row["stem"]] = TilePosition(
                    row["scene"],
                    int(row["row"]),
                    int(row["col"]),
                    int(row["height"]),
                    int(row["width"]),
                )
    for stem in stems:
        if stem not in positions and (found := position_from_name(stem)) is not None:
            positions[stem] = found
    return {s: positions[s] for s in stems if s in positions}
