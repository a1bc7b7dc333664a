#!/usr/bin/env python
"""docs/NEW_EVENT.md's round trip once on Bijie, through the documented commands, the true
masks standing in for the mapper.

Usage:
    python benchmarks/new_event_bijie.py PARENT --dataset BIJIE --images DIR --masks DIR
        --out DIR [--pool-split f0_train] [--val-split f0_val] [--n 20]
        [--strategy random] [--config configs/finetune.yaml]

`BIJIE` is `quakeslide tile ../shared/data/bijie/images --labels ../shared/data/bijie/masks`
with fold lists (`f0_train.txt` ...); the new event's "scenes" are the source images of
the pool split's tiles, the held-out tiles those of `--val-split` (other images).

1. `suggest PARENT SCENES --n N`: squares and Labelme chips pre-filled with the parent's
   outlines; the share of them a mapper keeps (IoU >= 0.5 with a true landslide, 4-connected
   regions, on the chip) is counted before they are corrected;
2. each chip corrected: its outlines replaced by the true ones (the scene's mask there);
3. `tile --labels CHIPS`, with the held-out tiles added beside (lists `chips`, `heldout`);
4. `train --init PARENT --config finetune.yaml --freeze batchnorm --train-split chips
   --val-split heldout` (NEW_EVENT.md's step 5 for a few windows);
5. `evaluate` the parent zero-shot and the fine-tuned last epoch on the held-out tiles.
Prints a markdown table and writes `DIR/new_event.json`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyogrio.raw
import rasterio.features
import shapely
from PIL import Image
from rasterio.transform import Affine

from quakeslide.data.positions import tile_positions
from quakeslide.evaluation.objects import match_objects
from quakeslide.folders import DatasetFolder, RunFolder
from quakeslide.io.labelme import write_labelme
from quakeslide.records import EvaluationMetrics, RunSummary

QUAKESLIDE = [sys.executable, "-m", "quakeslide"]
PIXEL = Affine.identity()  # Labelme points are chip pixels


def run(*args) -> float:
    """One quakeslide command; its wall time."""
    started = time.perf_counter()
    subprocess.run([*QUAKESLIDE, *map(str, args)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def true_mask(masks: Path, scene: str) -> np.ndarray:
    """Bijie's mask (yellow landslides on black) as 0/1."""
    rgb = np.asarray(Image.open(masks / f"{Path(scene).stem}.png").convert("RGB"))
    return ((rgb[..., 0] > 127) & (rgb[..., 1] > 127) & (rgb[..., 2] < 128)).astype(np.uint8)


def chip_polygons(doc: dict) -> list[shapely.Polygon]:
    return [shapely.Polygon(s["points"]) for s in doc["shapes"] if len(s["points"]) >= 3]


def correct_chips(suggest: Path, masks: Path) -> dict:
    """Count the pre-filled outlines a mapper keeps, then replace them by the truth."""
    meta, _, _, fields = pyogrio.raw.read(suggest / "suggestions.gpkg", layer="suggestions")
    squares = dict(zip(meta["fields"], fields, strict=True))
    totals = {"chips": 0, "prefilled": 0, "kept": 0, "truth": 0, "truth_prefilled": 0}
    for rank, scene, col, row in zip(squares["rank"], squares["scene"], squares["col"],
                                     squares["row"], strict=True):  # fmt: skip
        chip_json = suggest / "chips" / f"{rank:03d}_{Path(scene).stem}.json"
        doc = json.loads(chip_json.read_text())
        height, width = doc["imageHeight"], doc["imageWidth"]
        truth = true_mask(masks, scene)[row : row + height, col : col + width]
        prefilled = chip_polygons(doc)
        drawn = (
            rasterio.features.rasterize(prefilled, (height, width), dtype=np.uint8)
            if prefilled
            else np.zeros((height, width), np.uint8)
        )
        counts = match_objects(drawn.astype(bool), truth).summary()["by_class"]["all"]
        totals["chips"] += 1
        totals["prefilled"] += counts["predicted"]
        totals["kept"] += counts["predicted"] - counts["false_alarms"]
        totals["truth"] += counts["truth"]
        totals["truth_prefilled"] += counts["detected"]
        shapes = rasterio.features.shapes(truth, mask=truth == 1, transform=PIXEL)
        outlines = [shapely.geometry.shape(g) for g, _ in shapes]
        write_labelme(chip_json, doc["imagePath"], outlines, PIXEL, height, width)
    return totals


def add_held_out(event: Path, bijie: Path, held: list[str]) -> None:
    """The held-out Bijie tiles beside the chips' tiles, as links, with both lists."""
    own = sorted(p.stem for p in DatasetFolder(event).masks.glob("*.png"))
    for stem in held:
        for kind in ("images", "masks"):
            source = next((bijie / kind).glob(f"{stem}.*"))
            target = event / kind / source.name
            if not target.exists():
                target.symlink_to(source.resolve())
    (event / "chips.txt").write_text("\n".join(own) + "\n")
    (event / "heldout.txt").write_text("\n".join(held) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("parent", type=Path)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--masks", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--pool-split", default="f0_train")
    parser.add_argument("--val-split", default="f0_val")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--strategy", default="random")
    parser.add_argument("--config", type=Path, default=Path("configs/finetune.yaml"))
    a = parser.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    pool = (a.dataset / f"{a.pool_split}.txt").read_text().split()
    held = (a.dataset / f"{a.val_split}.txt").read_text().split()
    scenes = sorted({p.scene for p in tile_positions(a.dataset, pool).values()})
    scene_paths = [next(a.images.glob(f"{Path(s).stem}.*")) for s in scenes]
    walls = {}
    suggest = a.out / "suggest"
    walls["suggest"] = run("suggest", a.parent, *scene_paths, "--out", suggest, "--n", a.n,
                           "--strategy", a.strategy)  # fmt: skip
    chips = correct_chips(suggest, a.masks)
    event = a.out / "event_ds"
    walls["tile"] = run("tile", "--labels", suggest / "chips", "--out", event, "--size", 256)
    add_held_out(event, a.dataset, held)
    walls["train"] = run("train", event, "--out", a.out / "event_run", "--init", a.parent,
                         "--config", a.config, "--freeze", "batchnorm", "--train-split", "chips",
                         "--val-split", "heldout")  # fmt: skip
    scores = {}
    tuned = RunFolder(a.out / "event_run").last_checkpoint
    for name, model in (("zero-shot", a.parent), ("fine-tuned (last epoch)", tuned)):
        folder = a.out / f"eval_{name.split()[0]}"
        walls[f"evaluate {name}"] = run("evaluate", model, a.dataset, "--split", a.val_split,
                                        "--out", folder, "--panels", 0)  # fmt: skip
        metrics = EvaluationMetrics.read(folder / "metrics.json")
        scores[name] = {k: getattr(metrics, k) for k in ("precision", "recall", "f1", "iou")}
    best = RunSummary.read(RunFolder(a.out / "event_run").summary).best
    result = {"scenes": len(scenes), "held_out_tiles": len(held), "n": a.n,
              "strategy": a.strategy, "chips": chips, "scores": scores,
              "best_epoch_f1": best.f1 if best else None,
              "wall_seconds": {k: round(v, 1) for k, v in walls.items()}}  # fmt: skip
    (a.out / "new_event.json").write_text(json.dumps(result, indent=1))
    print(
        f"chips {chips['chips']}: {chips['kept']} of {chips['prefilled']} pre-filled outlines"
        f" kept; {chips['truth_prefilled']} of {chips['truth']} true landslides pre-filled"
    )
    print("| model | precision | recall | F1 | IoU |\n|---|---|---|---|---|")
    for name, s in scores.items():
        print(
            f"| {name} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} |"
            f" {s['iou']:.3f} |"
        )
    print(json.dumps(result["wall_seconds"]))


if __name__ == "__main__":
    main()
