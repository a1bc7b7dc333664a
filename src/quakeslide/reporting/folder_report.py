"""Which kind of result folder this is, and what its report shows.

Kinds, recognised by their files as `quakeslide.folders` names them: an inventory, a
suggestion folder, an evaluation, a study, a selection study, a cross-validation, a
training run and a prediction folder.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from quakeslide.area_classes import class_label
from quakeslide.errors import InputError
from quakeslide.folders import (
    CvFolder,
    EvaluationFolder,
    InventoryFolder,
    PredictionFolder,
    ResultFolder,
    RunFolder,
    SelectionStudyFolder,
    StudyFolder,
    SuggestionFolder,
    result_folder,
)
from quakeslide.records import (
    CvSummary,
    EvaluationMetrics,
    InventoryRecord,
    PredictionSummary,
    Record,
    RunSummary,
    SelectionStudySummary,
    StudySummary,
)
from quakeslide.reporting.map_page import inventory_map, scene_map, suggestion_map
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

PIXEL_KEYS = ("precision", "recall", "f1", "iou", "accuracy")


def folder_kind(folder: Path) -> tuple[str, ResultFolder]:
    found = result_folder(folder)
    if found is None:
        raise InputError(
            f"{folder}: not a result folder (no inventory, suggestion, evaluation, study, cv,"
            " run or prediction files)"
        )
    return found


def build_report(folder: Path, figures: Path) -> Report:
    """`figures`: where figures made for the report (e.g. training curves) are written."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder")
    kind, contract = folder_kind(folder)
    builders = {
        "inventory": _inventory,
        "suggestions": _suggestions,
        "evaluation": _evaluation,
        "study": _study,
        "selection-study": _selection_study,
        "cv": _cv,
        "run": _run,
        "prediction": _prediction,
    }
    title, sections = builders[kind](contract, figures)
    return Report(title, folder.resolve(), sections)


def _outline_tolerance_table(models: dict[str, EvaluationMetrics]) -> list[Table]:
    """The forgiving scores, where the evaluation computed them (older ones did not)."""
    forgiving = {name: m.outline_tolerance for name, m in models.items()}
    rows = [
        [name, cell(f["pixels"]), cell(f["left_out"]), *(cell(f[k]) for k in PIXEL_KEYS[:4])]
        for name, f in forgiving.items()
        if f
    ]
    if not rows:
        return []
    title = "Hand-drawn outlines forgiven: pixels within N px of an outline left out"
    header = ["model", "N (px)", "share left out", *PIXEL_KEYS[:4]]
    return [Table(title, header, rows)]


def _evaluation(folder: EvaluationFolder, _: Path) -> tuple[str, list[Section]]:
    metrics = EvaluationMetrics.read(folder.metrics)
    models = {metrics.model: metrics}
    if folder.compare.metrics.exists():
        second = EvaluationMetrics.read(folder.compare.metrics)
        models[second.model] = second
    header = ["model", "tiles", *PIXEL_KEYS, "tp", "fp", "fn", "tn"]
    pixel_rows = [
        [name, cell(m.tiles), *(cell(getattr(m, k)) for k in header[2:])]
        for name, m in models.items()
    ]
    tile_rows = [
        [name, *(cell(m.per_tile_mean[k]) for k in PIXEL_KEYS)] for name, m in models.items()
    ]
    pixels = Section(
        "Pixel metrics (landslide class)",
        [
            f"Dataset {metrics.dataset} (split {metrics.split or 'all'}),"
            f" threshold {metrics.threshold}; ignore pixels excluded.",
        ],
        [
            Table("Over all pixels (micro)", header, pixel_rows),
            Table(
                "Mean over tiles (tiles where the metric is defined)",
                ["model", *PIXEL_KEYS],
                tile_rows,
            ),
            *_outline_tolerance_table(models),
        ],
        _figures([folder.outline_curve_png], "Scores with the drawn outlines forgiven"),
    )
    objects = Section("Landslides as objects", [metrics.objects["rule"]] if metrics.objects else [])
    for name, m in models.items():
        if not m.objects:
            continue
        by_class = m.objects["by_class"]
        bounds = m.objects["area_classes"]
        unit = m.objects["area_unit"]
        rows = [
            [size, class_label(bounds[size], unit) if size in bounds else "",
             *(cell(counts[k]) for k in ("truth", "detected", "detection_rate", "predicted",
                                           "false_alarms", "false_alarm_rate"))]
            for size, counts in by_class.items()
        ]  # fmt: skip
        objects.tables.append(
            Table(
                f"{name}: by size class",
                ["class", "area", "true", "detected", "detection rate", "predicted",
                 "false alarms", "false-alarm rate"],
                rows,
            )
        )  # fmt: skip
    sweep_keys = ("threshold", "precision", "recall", "f1")
    best_rows = [
        [name, *(cell(m.best_threshold[k]) for k in sweep_keys)] for name, m in models.items()
    ]
    sweep = Section(
        "Threshold",
        [
            "The F1-best threshold of the sweep is reported only; the metrics above use "
            f"{metrics.threshold}."
        ],
        [Table("F1-best threshold", ["model", *sweep_keys], best_rows)],
        _figures([folder.pr_curve_png], "Pixel precision-recall curve"),
    )
    panels = Section(
        "Where the models err",
        ["Yellow: true positive, red: false positive, blue: false negative."],
        figures=[
            Figure(f"{path.stem.replace('_', ' ')} tiles", path)
            for path in sorted(folder.panels.glob("*.png"))
        ],
    )
    records = read_records(folder.per_tile)
    tiles = Section("Per tile", tables=[records_table(folder.per_tile.name, records, limit=30)])
    return "Evaluation: " + " vs ".join(models), [pixels, objects, sweep, panels, tiles]


def _inventory(folder: InventoryFolder, _: Path) -> tuple[str, list[Section]]:
    record = InventoryRecord.read(folder.record)
    values = record.model_dump(mode="json", exclude={"truth", "compare"})
    sections = [
        Section(
            "The event's landslides",
            [f"Pooled from {', '.join(record.sources)}; areas in {record.crs}."],
            [key_value_table(folder.record.name, values)],
            _figures([folder.fad_png], "Frequency-area distribution and its fits"),
            maps=[inventory_map(folder)],
        )
    ]
    if record.truth and record.compare:
        truth = record.truth.model_dump(mode="json")
        by_size = record.compare.get("matched_by_size", {})
        rows = [[size, cell(m["truth"]), cell(m["matched"]), cell(m["rate"])]
                for size, m in by_size.items()]  # fmt: skip
        compare = {k: v for k, v in record.compare.items() if k != "matched_by_size"}
        sections.append(
            Section(
                "Against the truth inventory",
                tables=[
                    key_value_table("comparison", compare),
                    Table("true landslides matched", ["size", "true", "matched", "rate"], rows),
                    key_value_table("truth", truth),
                ],
            )
        )
    return f"Inventory: {folder.root.name}", sections


def _suggestions(folder: SuggestionFolder, _: Path) -> tuple[str, list[Section]]:
    chips = len(list(folder.chips.glob("*.json")))
    text = [f"{chips} chips with pre-filled Labelme files in {folder.chips}: correct them"
            " in rank order (docs/NEW_EVENT.md)."]  # fmt: skip
    return f"Where to draw next: {folder.root.name}", [
        Section("Suggested squares", text, maps=[suggestion_map(folder)])
    ]


def _study(folder: StudyFolder, _: Path) -> tuple[str, list[Section]]:
    figures = [Figure(p.stem.replace("_", " "), p) for p in sorted(folder.figures.glob("*.png"))]
    sections = [
        Section("Study", tables=[_record_table(folder.summary, StudySummary)]),
        Section("Table 1", tables=[_csv_table(folder.table_csv)]),
        Section("Figures", figures=figures),
    ]
    if folder.runs_csv.exists():
        sections.append(Section("Runs", tables=[_csv_table(folder.runs_csv)]))
    return f"Sample-size study: {folder.root.name}", sections


def _selection_study(folder: SelectionStudyFolder, _: Path) -> tuple[str, list[Section]]:
    figures = [Figure(p.stem.replace("_", " "), p) for p in sorted(folder.figures.glob("*.png"))]
    sections = [
        Section("Study", tables=[_record_table(folder.summary, SelectionStudySummary)]),
        Section("Learning curves", tables=[_csv_table(folder.curves_csv)], figures=figures),
    ]
    if folder.runs_csv.exists():
        sections.append(Section("Rounds", tables=[_csv_table(folder.runs_csv)]))
    return f"Which windows to label: {folder.root.name}", sections


def _cv(folder: CvFolder, figures: Path) -> tuple[str, list[Section]]:
    folds = {run.root.name: run.epoch_rows() for run in folder.fold_runs()}
    folds = {name: rows for name, rows in folds.items() if rows}
    curves = (
        [Figure("training curves per fold", plot_training_curves(folds, figures / "cv_curves.png"))]
        if folds
        else []
    )
    sections = [Section("Cross-validation", tables=[_record_table(folder.summary, CvSummary)])]
    if folder.table.exists():
        sections.append(Section("Folds", tables=[_csv_table(folder.table)]))
    sections.append(Section("Training curves", figures=curves))
    return f"Cross-validation: {folder.root.name}", sections


def _run(folder: RunFolder, figures: Path) -> tuple[str, list[Section]]:
    rows = folder.epoch_rows()
    summary = RunSummary.read(folder.summary) if folder.summary.exists() else None
    config = yaml.safe_load(folder.config.read_text()) or {}
    curves = (
        [Figure("training curves", plot_training_curves({"run": rows}, figures / "run_curves.png"))]
        if rows
        else []
    )
    epochs = records_table(folder.metrics.name, [{k: v for k, v in r.items()} for r in rows])
    sections = [
        Section("Result", tables=[key_value_table(folder.summary.name, _values(summary))]),
        Section("Per epoch", tables=[epochs], figures=curves),
        Section("Configuration", tables=[key_value_table(folder.config.name, config)]),
    ]
    return (
        f"Training run: {folder.root.name} ({summary.model if summary else config.get('model')})",
        sections,
    )


def _prediction(folder: PredictionFolder, _: Path) -> tuple[str, list[Section]]:
    sections = []
    for scene in folder.scenes():
        outputs = folder.outputs(scene)
        tables = _inventory_tables(outputs.summary)
        maps = [scene_map(outputs, scene)] if outputs.finished() else []
        sections.append(Section(f"Scene {scene}", tables=tables, maps=maps))
    return f"Landslide map: {folder.root.name}", sections


def _inventory_tables(path: Path) -> list[Table]:
    """A scene's inventory with units in the headers, areas in whole m2 (or px)."""
    summary = PredictionSummary.read(path)
    unit = summary.area_unit
    rows = [
        ["landslides", str(summary.count)],
        [f"total area ({unit})", f"{summary.total_area:,.0f}"],
        [f"largest landslide ({unit})", f"{summary.largest_area:,.0f}"],
        ["threshold (probability)", cell(summary.threshold)],
        ["touching landslides kept apart by", summary.separation],
        *_event_rows(summary),
        *([key, cell(getattr(summary, key))] for key in ("engine", "device", "precision", "tta")
          if getattr(summary, key) is not None),
        *([["fine-tuned from", summary.parent["path"]]] if summary.parent else []),
    ]  # fmt: skip
    sizes = [
        [name, class_label(summary.area_classes[name], unit), str(count)]
        for name, count in summary.area_histogram.items()
    ]
    return [
        Table(path.name, ["", "value"], rows),
        Table("Landslides by size", ["class", "area", "landslides"], sizes),
    ]


def _event_rows(summary: PredictionSummary) -> list[list[str]]:
    """The scene's event figures: tail, magnitude and volume (or why they are missing)."""
    event = summary.event
    if event is None:
        return [["event figures", "none: areas in pixels (give --pixel-size)"]]
    rows = []
    if event.tail:
        low, high = event.tail.exponent_ci
        rows.append(["power-law tail exponent (beta)",
                     f"{event.tail.exponent:.2f} ({low:.2f}-{high:.2f}) above"
                     f" {event.tail.cutoff_m2:,.0f} m2"])  # fmt: skip
        rows.append(["landslide-event magnitude (mLS)", f"{event.mls:.2f}"])
    rows += [[f"{fit} not fitted", why] for fit, why in event.refused.items()]
    v = event.volume_m3
    rows.append([f"volume ({v.model}, m3)", f"{v.median:,.0f} ({v.low:,.0f}-{v.high:,.0f})"])
    return rows


def _record_table(path: Path, record: type[Record]) -> Table:
    """A result file as a key / value table; an absent file as an empty one."""
    return key_value_table(path.name, _values(record.read(path) if path.exists() else None))


def _values(record: Record | None) -> dict:
    return record.model_dump(mode="json", exclude_unset=True) if record else {}


def _csv_table(path: Path) -> Table:
    return records_table(path.name, read_records(path))


def _figures(paths: list[Path], caption: str) -> list[Figure]:
    return [Figure(caption, path) for path in paths if path.exists()]
