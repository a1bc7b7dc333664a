"""Pseudo-labels for self-training: a model's confident pixels as masks of unlabelled tiles.

After a new earthquake the mapper has outlines for a few images and the rest of the scene
unlabelled. A model trained on the outlines labels that rest where it is confident, and a
model trained again on both learns the new scene's look from far more ground.

The output is a dataset folder every command reads: the source's tiles as they are (masks
in the 0 / 1 / 255 contract) plus a `pseudo-<stem>` copy of each unlabelled tile whose
mask is the model's: landslide where its probability is >= `high`, background where it is
<= `low`, ignore (255) between them and wherever the source mask ignores (nodata,
padding). The source's own labels of those tiles are never read, so they stay usable for
scoring (a study scores the self-trained model on them).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from quakeslide.classes import CLASS_NAMES, IGNORE
from quakeslide.data.dataset import TileDataset, list_stems
from quakeslide.errors import InputError
from quakeslide.folders import DatasetFolder

PSEUDO_PREFIX = "pseudo-"
PSEUDO_SPLIT = "pseudo"  # pseudo.txt: the pseudo-labelled tiles
WITH_PSEUDO_SPLIT = "with-pseudo"  # with-pseudo.txt: the labelled tiles and the pseudo ones
BATCH = 8


@dataclass(frozen=True)
class PseudoLabels:
    """What `write_pseudo_labelled` wrote."""

    dataset: Path
    stems: list[str]  # the pseudo-labelled tiles' stems in `dataset`
    labelled_share: float  # of their valid pixels, the share given a label (not ignored)
    landslide_share: float  # of their labelled pixels, the share labelled landslide


def check_confidence(low: float, high: float) -> None:
    if not 0.0 <= low <= high <= 1.0:
        raise InputError(f"low {low} / high {high}: need 0 <= low <= high <= 1")


def pseudo_mask(
    probability: np.ndarray, source_mask: np.ndarray, low: float, high: float
) -> np.ndarray:
    """The model's mask of one tile: 1 at >= high, 0 at <= low, ignore between and where the
    source mask ignores."""
    mask = np.full(probability.shape, IGNORE, np.uint8)
    mask[probability <= low] = 0
    mask[probability >= high] = 1
    mask[source_mask == IGNORE] = IGNORE
    return mask


def write_pseudo_labelled(
    source: Path,
    unlabelled: list[str],
    probability: Callable[[np.ndarray], np.ndarray],
    out: Path,
    low: float = 0.3,
    high: float = 0.7,
    labelled: list[str] | None = None,
    record: dict | None = None,
) -> PseudoLabels:
    """Write `out`: `source`'s tiles plus pseudo-labelled copies of `unlabelled`.

    `probability`: uint8 (N, C, H, W) -> (N, H, W) landslide probability (an Engine's
    predict). `labelled`: the tiles that go with the pseudo ones into with-pseudo.txt
    (default: every source tile not in `unlabelled`). `record`: what made the labels (the
    model, ...), kept in dataset.json. Built in a temporary folder, renamed at the end.
    """
    check_confidence(low, high)
    source, out = Path(source), Path(out)
    if out.exists():
        raise InputError(f"{out}: exists; pseudo-labels go to a new dataset folder")
    stems = list_stems(source)
    missing = sorted(set(unlabelled) - set(stems))
    if missing:
        raise InputError(f"{source}: no tile {missing[0]!r} ({len(missing)} unlabelled missing)")
    if not unlabelled:
        raise InputError(f"{source}: no unlabelled tile to pseudo-label")
    held = set(unlabelled)
    labelled = [s for s in stems if s not in held] if labelled is None else labelled
    tiles = TileDataset(source, stems)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        folder = DatasetFolder(work)
        folder.images.mkdir()
        folder.masks.mkdir()
        for stem, image, mask in zip(tiles.stems, tiles.paths, tiles.masks, strict=True):
            _link(image, folder.images)
            Image.fromarray(mask).save(folder.mask(stem))
        counts, fractions = _write_pseudo_tiles(tiles, unlabelled, probability, folder, low, high)
        pseudo = [PSEUDO_PREFIX + s for s in unlabelled]
        _copy_index(source, work, fractions)
        for split in source.glob("*.txt"):
            shutil.copy(split, work / split.name)
        folder.split_list(PSEUDO_SPLIT).write_text("\n".join(pseudo) + "\n")
        folder.split_list(WITH_PSEUDO_SPLIT).write_text("\n".join(labelled + pseudo) + "\n")
        labelled_share = float(counts[1] / max(counts[0], 1))
        landslide_share = float(counts[2] / max(counts[1], 1))
        info = _source_info(source)
        info["label_encoding"] = {**{n: i for i, n in enumerate(CLASS_NAMES)}, "ignore": IGNORE}
        info["pseudo_labels"] = {
            **(record or {}),
            "source_dataset": str(source),
            "low": low,
            "high": high,
            "tiles": len(pseudo),
            "labelled_share": round(labelled_share, 4),
            "landslide_share": round(landslide_share, 4),
        }
        folder.info.write_text(json.dumps(info, indent=2))
        work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return PseudoLabels(out, pseudo, labelled_share, landslide_share)


def _write_pseudo_tiles(
    tiles: TileDataset,
    unlabelled: list[str],
    probability: Callable[[np.ndarray], np.ndarray],
    folder: DatasetFolder,
    low: float,
    high: float,
) -> tuple[np.ndarray, dict[str, float]]:
    """The pseudo tiles, in batches; pixel counts (valid, labelled, landslide) and each
    tile's landslide fraction."""
    index = {s: i for i, s in enumerate(tiles.stems)}
    counts = np.zeros(3)
    fractions = {}
    for start in tqdm(range(0, len(unlabelled), BATCH), desc="pseudo-labels", unit="batch"):
        batch = [index[s] for s in unlabelled[start : start + BATCH]]
        pixels = np.stack([tiles.images[i] for i in batch])
        for i, prob in zip(batch, probability(pixels), strict=True):
            mask = pseudo_mask(prob, tiles.masks[i], low, high)
            name = PSEUDO_PREFIX + tiles.stems[i]
            image = tiles.paths[i]
            _link(image, folder.images, name + image.suffix)
            Image.fromarray(mask).save(folder.mask(name))
            valid = tiles.masks[i] != IGNORE
            counts += [valid.sum(), (mask != IGNORE).sum(), (mask == 1).sum()]
            fractions[name] = float((mask == 1).mean())
    return counts, fractions


def _link(path: Path, folder: Path, name: str | None = None) -> None:
    """A hard link where the file system allows one (tiles are read, never changed), else a copy."""
    target = folder / (name or path.name)
    try:
        os.link(path, target)
    except OSError:
        shutil.copyfile(path, target)


def _source_info(source: Path) -> dict:
    info = DatasetFolder(source).info
    return json.loads(info.read_text()) if info.exists() else {}


def _copy_index(source: Path, work: Path, fractions: dict[str, float]) -> None:
    """tiles.csv with a row per pseudo tile: its source tile's position, the model's fraction."""
    index = DatasetFolder(source).tiles_csv
    if not index.exists():
        return
    with open(index, newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames or [], list(reader)
    by_stem = {r["stem"]: r for r in rows}
    for name, fraction in fractions.items():
        if (source_row := by_stem.get(name.removeprefix(PSEUDO_PREFIX))) is None:
            continue  # a tile tiles.csv does not list: no position to copy
        row = dict(source_row, stem=name)
        if "landslide_fraction" in row:
            row["landslide_fraction"] = fraction
        rows.append(row)
    with open(DatasetFolder(work).tiles_csv, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
