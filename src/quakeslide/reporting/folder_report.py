"""Which kind of result folder this is, and what its report shows.

Kinds, recognised by their files: an evaluation (metrics.json + per_tile.csv), a study
(table1.csv), a cross-validation (cv_summary.json), a training run (metrics.csv +
config.yaml) and a prediction folder (<scene>_summary.json).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from quakeslide.errors import InputError
from quakeslide.reporting.report_model import (
    Figure,
    Report,
    Section,
    Table,
    cell,
    key_value_table,
    read_records,
    records_table,
)
from quakeslide.reporting.training_curves import plot_training_curves
from quakeslide.training.epoch_log import read_rows

PIXEL_KEYS = ("precision", "recall", "f1", "iou", "accuracy")


def folder_kind(folder: Path) -> str:
    if (folder / "metrics.json").exists() and (folder / "per_tile.csv").exists():
        return "evaluation"
    if (folder / "table1.csv").exists():
        return "study"
    if (folder / "cv_summary.json").exists():
        return "cv"
    if (folder / "metrics.csv").exists() and (folder / "config.yaml").exists():
        return "run"
    if list(folder.glob("*_summary.json")):
        return "prediction"
    raise InputError(
        f"{folder}: not a result folder (no evaluation, study, cv, run or prediction files)"
    )


def build_report(folder: Path, figures: Path) -> Report:
    """`figures`: where figures made for the report (e.g. training curves) are written."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder")
    kind = folder_kind(folder)
    builders = {
        "evaluation": _evaluation,
        "study": _study,
        "cv": _cv,
        "run": _run,
        "prediction": _prediction,
    }
    title, sections = builders[kind](folder, figures)
    return Report(title, folder.resolve(), sections)


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def _evaluation(folder: Path, _: Path) -> tuple[str, list[Section]]:
    metrics = _json(folder / "metrics.json")
    models = {metrics.get("model", "model"): metrics}
    if (folder / "compare" / "metrics.json").exists():
        second = _json(folder / "compare" / "metrics.json")
        models[second.get("model", "compare")] = second
    header = ["model", "tiles", *PIXEL_KEYS, "tp", "fp", "fn", "tn"]
    pixel_rows = [
        [name, cell(m["tiles"]), *(cell(m[k]) for k in header[2:])] for name, m in models.items()
    ]
    tile_rows = [
        [name, *(cell(m["per_tile_mean"][k]) for k in PIXEL_KEYS)] for name, m in models.items()
    ]
    pixels = Section(
        "Pixel metrics (landslide class)",
        [
            f"Dataset {metrics.get('dataset')} (split {metrics.get('split') or 'all'}),"
            f" threshold {metrics['threshold']}; ignore pixels excluded.",
        ],
        [
            Table("Over all pixels (micro)", header, pixel_rows),
            Table(
                "Mean over tiles (tiles where the metric is defined)",
                ["model", *PIXEL_KEYS],
                tile_rows,
            ),
        ],
    )
    objects = Section("Landslides as objects", [metrics["objects"]["rule"]])
    for name, m in models.items():
        by_class = m["objects"]["by_class"]
        bounds = m["objects"]["area_classes"]
        unit = m["objects"]["area_unit"]
        rows = [
            [size, cell(bounds.get(size, ["", ""])[0]) if size in bounds else "",
             cell(bounds[size][1]) if size in bounds else "",
             *(cell(counts[k]) for k in ("truth", "detected", "detection_rate", "predicted",
                                           "false_alarms", "false_alarm_rate"))]
            for size, counts in by_class.items()
        ]  # fmt: skip
        objects.tables.append(
            Table(
                f"{name}: by size class ({unit})",
                ["class", f"from {unit}", f"to {unit}", "true", "detected", "detection rate",
                 "predicted", "false alarms", "false-alarm rate"],
                rows,
            )
        )  # fmt: skip
    sweep_keys = ("threshold", "precision", "recall", "f1")
    best_rows = [
        [name, *(cell(m["best_threshold"][k]) for k in sweep_keys)] for name, m in models.items()
    ]
    sweep = Section(
        "Threshold",
        [
            "The F1-best threshold of the sweep is reported only; the metrics above use "
            f"{metrics['threshold']}."
        ],
        [Table("F1-best threshold", ["model", *sweep_keys], best_rows)],
        _figures(folder, ["pr_curve.png"], "Pixel precision-recall curve"),
    )
    panels = Section(
        "Where the models err",
        ["Yellow: true positive, red: false positive, blue: false negative."],
        figures=[
            Figure(f"{path.stem.replace('_', ' ')} tiles", path)
            for path in sorted((folder / "panels").glob("*.png"))
        ],
    )
    records = read_records(folder / "per_tile.csv")
    tiles = Section("Per tile", tables=[records_table("per_tile.csv", records, limit=30)])
    return "Evaluation: " + " vs ".join(models), [pixels, objects, sweep, panels, tiles]


def _study(folder: Path, _: Path) -> tuple[str, list[Section]]:
    summary = _json(folder / "summary.json") if (folder / "summary.json").exists() else {}
    figures = [
        Figure(p.stem.replace("_", " "), p) for p in sorted((folder / "figures").glob("*.png"))
    ]
    sections = [
        Section("Study", tables=[key_value_table("summary.json", summary)]),
        Section(
            "Table 1", tables=[records_table("table1.csv", read_records(folder / "table1.csv"))]
        ),
        Section("Figures", figures=figures),
    ]
    if (folder / "runs.csv").exists():
        sections.append(
            Section("Runs", tables=[records_table("runs.csv", read_records(folder / "runs.csv"))])
        )
    return f"Sample-size study: {folder.name}", sections


def _cv(folder: Path, figures: Path) -> tuple[str, list[Section]]:
    summary = _json(folder / "cv_summary.json")
    folds = {p.name: read_rows(p / "metrics.csv") for p in sorted(folder.glob("fold_*"))}
    folds = {name: rows for name, rows in folds.items() if rows}
    curves = (
        [Figure("training curves per fold", plot_training_curves(folds, figures / "cv_curves.png"))]
        if folds
        else []
    )
    sections = [Section("Cross-validation", tables=[key_value_table("cv_summary.json", summary)])]
    if (folder / "cv.csv").exists():
        sections.append(
            Section("Folds", tables=[records_table("cv.csv", read_records(folder / "cv.csv"))])
        )
    sections.append(Section("Training curves", figures=curves))
    return f"Cross-validation: {folder.name}", sections


def _run(folder: Path, figures: Path) -> tuple[str, list[Section]]:
    rows = read_rows(folder / "metrics.csv")
    summary = _json(folder / "summary.json") if (folder / "summary.json").exists() else {}
    config = yaml.safe_load((folder / "config.yaml").read_text()) or {}
    curves = (
        [Figure("training curves", plot_training_curves({"run": rows}, figures / "run_curves.png"))]
        if rows
        else []
    )
    epochs = records_table("metrics.csv", [{k: v for k, v in r.items()} for r in rows])
    sections = [
        Section("Result", tables=[key_value_table("summary.json", summary)]),
        Section("Per epoch", tables=[epochs], figures=curves),
        Section("Configuration", tables=[key_value_table("config.yaml", config)]),
    ]
    return (
        f"Training run: {folder.name} ({summary.get('model', config.get('model', ''))})",
        sections,
    )


def _prediction(folder: Path, _: Path) -> tuple[str, list[Section]]:
    sections = []
    for path in sorted(folder.glob("*_summary.json")):
        summary = _json(path)
        scene = path.name[: -len("_summary.json")]
        quicklook = folder / f"{scene}_quicklook.png"
        figures = (
            [Figure(f"{scene}: landslide outlines (red)", quicklook)] if quicklook.exists() else []
        )
        sections.append(
            Section(f"Scene {scene}", tables=[key_value_table(path.name, summary)], figures=figures)
        )
    return f"Landslide map: {folder.name}", sections


def _figures(folder: Path, names: list[str], caption: str) -> list[Figure]:
    return [Figure(caption, folder / name) for name in names if (folder / name).exists()]
