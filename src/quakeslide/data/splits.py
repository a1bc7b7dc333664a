"""Which tiles train and which validate: hold-out, spatially grouped k-fold, nested subsets."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quakeslide.data.dataset import list_stems
from quakeslide.data.positions import TilePosition, tile_positions
from quakeslide.errors import InputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Split:
    train: list[str]
    val: list[str]


def holdout_split(
    dataset: Path,
    train_split: str | None,
    val_split: str | None,
    val_fraction: float,
    seed: int,
) -> Split:
    """From split lists (train.txt / val.txt) when named, else a seeded hold-out of about
    `val_fraction` of the tiles, taken as one fold of the grouping `cv` uses (`fold_groups`,
    auto): where tile positions are known, no validation tile touches a training tile, so
    the score is one on unseen ground and not on the neighbours of training tiles."""
    if train_split or val_split:
        val = list_stems(dataset, val_split) if val_split else []
        if train_split:
            train = list_stems(dataset, train_split)
        else:
            held = set(val)
            train = [s for s in list_stems(dataset) if s not in held]
        return Split(train, val)
    stems = list_stems(dataset)
    if len(stems) < 2:
        return Split(stems, [])
    folds = min(len(stems), max(2, round(1 / val_fraction)))
    groups, _ = fold_groups(dataset, stems, folds)
    fold_of = assign_folds(groups, folds, seed)
    return fold_split(stems, fold_of, 0)


def fold_split(stems: list[str], fold_of: dict[str, int], fold: int) -> Split:
    """Fold `fold` validates, every other fold trains."""
    return Split([s for s in stems if fold_of[s] != fold], [s for s in stems if fold_of[s] == fold])


def nested_scenes(dataset: Path, stems: list[str], scenes: int, seed: int) -> list[str]:
    """The tiles of the first `scenes` source scenes of one seeded order (nested, as
    :func:`nested_subset`): a training set counted in whole images, not tiles."""
    scene_of = {s: p.scene for s, p in tile_positions(dataset, stems).items()}
    if len(scene_of) < len(stems):
        raise InputError(f"{dataset}: {len(stems) - len(scene_of)} tiles have no known scene")
    names = sorted(set(scene_of.values()))
    if scenes > len(names):
        raise InputError(f"{scenes} scenes asked, the training tiles come from {len(names)}")
    chosen = set(nested_subset(names, scenes, seed))
    return [s for s in stems if scene_of[s] in chosen]


def nested_subset(stems: list[str], size: int, seed: int) -> list[str]:
    """The first `size` tiles of one seeded order: every smaller subset lies in every larger."""
    if size > len(stems):
        raise InputError(f"sample size {size} is larger than the {len(stems)} training tiles")
    order = np.random.default_rng([seed, 7]).permutation(len(stems))
    return sorted(stems[i] for i in order[:size])


def fold_groups(
    dataset: Path, stems: list[str], folds: int, grouping: str = "auto"
) -> tuple[dict[str, str], str]:
    """Group id per tile (a group never straddles two folds), and the grouping used.

    `blocks`: touching tiles (8-neighbourhood) form one group, so neighbours never sit on
    both sides of a fold; a cluster larger than a fold's share is halved across its longer
    side, again and again, until each piece fits: a short straight cut trades a few
    neighbour pairs for balanced folds (`neighbours_across_folds` counts them).
    `scenes`: the tiles of one source scene form one group, however many. `random`: every
    tile is its own group. `auto`: blocks when every tile's position is known (tiles.csv or
    offsets in names).
    """
    if folds < 2 or folds > len(stems):
        raise InputError(f"folds {folds}: need between 2 and {len(stems)} (one per tile at most)")
    if grouping == "random":
        return {s: s for s in stems}, "random"
    positions = tile_positions(dataset, stems)
    if len(positions) < len(stems):
        if grouping in ("blocks", "scenes"):
            missing = len(stems) - len(positions)
            raise InputError(f"{dataset}: {missing} tiles have no known position for {grouping}")
        log.info("tile positions unknown: folds are random")
        return {s: s for s in stems}, "random"
    if grouping == "scenes":
        return {s: positions[s].scene for s in stems}, "scenes"
    cells = _cells(positions)
    clusters: dict[str, list[str]] = defaultdict(list)
    for stem, cluster in _touching_clusters(cells).items():
        clusters[cluster].append(stem)
    limit = len(stems) / folds
    groups: dict[str, str] = {}
    for name, members in clusters.items():
        for index, piece in enumerate(_bisect(members, cells, limit)):
            groups.update({stem: f"{name}:{index}" for stem in piece})
    return groups, "blocks"


def assign_folds(groups: dict[str, str], folds: int, seed: int) -> dict[str, int]:
    """Fold per tile: groups in a seeded order, largest first, each into the emptiest fold."""
    members: dict[str, list[str]] = defaultdict(list)
    for stem in sorted(groups):
        members[groups[stem]].append(stem)
    names = sorted(members)
    shuffled = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
    sizes = [0] * folds
    fold_of: dict[str, int] = {}
    for name in sorted(shuffled, key=lambda n: len(members[n]), reverse=True):
        fold = int(np.argmin(sizes))
        sizes[fold] += len(members[name])
        fold_of.update({s: fold for s in members[name]})
    return fold_of


def neighbours_across_folds(dataset: Path, fold_of: dict[str, int]) -> int | None:
    """Pairs of touching tiles that sit in different folds (None when positions are unknown)."""
    positions = tile_positions(dataset, list(fold_of))
    if len(positions) < len(fold_of):
        return None
    cells = _cells(positions)
    by_cell = {c: s for s, c in cells.items()}
    pairs = 0
    for stem, (scene, r, c) in cells.items():
        for dr, dc in ((0, 1), (1, -1), (1, 0), (1, 1)):
            other = by_cell.get((scene, r + dr, c + dc))
            pairs += other is not None and fold_of[other] != fold_of[stem]
    return pairs


def _cells(positions: dict[str, TilePosition]) -> dict[str, tuple[str, int, int]]:
    """Grid cell (scene, row, col) of each tile, in units of the typical tile side."""
    side = int(np.median([p.height for p in positions.values()]))
    return {s: (p.scene, p.row // side, p.col // side) for s, p in positions.items()}


def _bisect(
    members: list[str], cells: dict[str, tuple[str, int, int]], limit: float
) -> list[list[str]]:
    """Cut across the longer side into two parts sized for whole numbers of pieces."""
    if len(members) <= limit:
        return [members]
    pieces = int(np.ceil(len(members) / limit))
    rows = [cells[s][1] for s in members]
    cols = [cells[s][2] for s in members]
    axis = 1 if max(rows) - min(rows) >= max(cols) - min(cols) else 2
    ordered = sorted(members, key=lambda s: (cells[s][axis], cells[s][3 - axis]))
    cut = round(len(ordered) * (pieces // 2) / pieces)
    return _bisect(ordered[:cut], cells, limit) + _bisect(ordered[cut:], cells, limit)


def _touching_clusters(cells: dict[str, tuple[str, int, int]]) -> dict[str, str]:
    by_cell = {c: s for s, c in cells.items()}
    parent = {s: s for s in cells}

    def root(s: str) -> str:
        while parent[s] != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s

    for stem, (scene, r, c) in cells.items():
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                other = by_cell.get((scene, r + dr, c + dc))
                if other is not None:
                    parent[root(other)] = root(stem)
    return {s: root(s) for s in cells}
