"""Command line: parse options, call one function, print where the results went."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from quakeslide.allocator import keep_freed_memory
from quakeslide.cli_options import (
    MODEL_HELP,
    OneLineErrorsGroup,
    Precision,
    one_line_errors,
    quiet_libraries,
    stage_options,
    training_options,
)
from quakeslide.options import (
    BenchOptions,
    CvOptions,
    EvaluateOptions,
    ExportOptions,
    InventoryOptions,
    PredictOptions,
    PseudoLabelOptions,
    SelectionStudyOptions,
    StudyOptions,
    SuggestOptions,
    TileOptions,
)

app = typer.Typer(cls=OneLineErrorsGroup, add_completion=False, no_args_is_help=True, help=__doc__)
app.callback()(quiet_libraries)  # before every command


@app.command()
@one_line_errors
def models(size: Annotated[int, typer.Option(help="input side for GMACs")] = 256) -> None:
    """Table of the architectures: our parameter counts, the paper's, GMACs."""
    from quakeslide.models.complexity import models_table_text

    typer.echo(models_table_text(size))


@app.command()
@one_line_errors
def synth(
    out: Annotated[Path, typer.Option(help="output folder")],
    name: Annotated[str, typer.Option(help="scene name (file stem)")] = "scene",
    size: Annotated[int, typer.Option(help="scene side in pixels")] = 2048,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Write a synthetic post-earthquake scene: GeoTIFF, truth mask, GeoPackage, Labelme JSON."""
    from quakeslide.synthetic import SceneSpec, make_scene

    scene = make_scene(out, name, SceneSpec(height=size, width=size, seed=seed))
    typer.echo(f"{scene.n_landslides} landslides ({scene.landslide_fraction:.1%} of pixels)")
    for path in (
        scene.image_path,
        scene.mask_path,
        scene.polygons_path,
        scene.labelme_path,
        scene.inventory_path,
    ):
        typer.echo(f"  {path}")


@app.command()
@one_line_errors
@stage_options(TileOptions)
def tile(
    labels: Annotated[Path, typer.Option(help="Labelme JSON/folder, vector file, mask(s)")],
    out: Annotated[Path, typer.Option(help="dataset folder to create")],
    scenes: Annotated[
        list[Path] | None,
        typer.Argument(help="scene(s): GeoTIFF, TIFF, PNG, JPEG; none: the Labelme files' images"),
    ] = None,
    *,
    options: TileOptions,
) -> None:
    """Cut scenes and their landslide labels into a dataset of image / mask tiles."""
    from quakeslide.data.tiling import tile_scenes

    result = tile_scenes(scenes or [], labels, out, options)
    typer.echo(
        f"{result.tiles} tiles ({result.landslide_tiles} with landslides) in {result.dataset}"
    )
    typer.echo(", ".join(f"{k} {v}" for k, v in result.counts.items()))


@app.command()
@one_line_errors
@training_options()
def train(
    dataset: Annotated[Path, typer.Argument(help="dataset folder (images/, masks/)")],
    out: Annotated[Path, typer.Option(help="run folder")],
    resume: Annotated[bool, typer.Option(help="continue the run in OUT from last.ckpt")] = False,
    *,
    settings: dict[str, Any],
) -> None:
    """Train a model with the paper's settings (cross-entropy, Adam 1e-3, StepLR 30, batch 5).

    Options override --config, which overrides the defaults; with --resume the run's own
    config.yaml is the base.
    """
    from quakeslide.device import is_launch_rank_zero
    from quakeslide.training.fit import run_config
    from quakeslide.training.fit import train as run_training

    resolved = run_config(out, resume, settings.pop("config"), **settings)
    result = run_training(dataset, out, resolved, resume=resume)
    if not is_launch_rank_zero():
        return
    if best := result.summary.best:
        typer.echo(
            f"best epoch {best.epoch}: F1 {best.f1:.3f} precision {best.precision:.3f}"
            f" recall {best.recall:.3f} IoU {best.iou:.3f}"
        )
    typer.echo(f"run folder: {result.run}\nbest checkpoint: {result.best_checkpoint}")


@app.command()
@one_line_errors
@training_options(without=("num_nodes", "num_workers", "val_split"))
@stage_options(CvOptions)
def cv(
    dataset: Annotated[Path, typer.Argument(help="dataset folder (images/, masks/)")],
    out: Annotated[Path, typer.Option(help="cross-validation folder")],
    *,
    options: CvOptions,
    settings: dict[str, Any],
) -> None:
    """k-fold cross-validation; finished folds are kept and stopped ones resumed on rerun."""
    from quakeslide.config import TrainConfig
    from quakeslide.training.cv import cross_validate

    resolved = TrainConfig.resolve(settings.pop("config"), **settings)
    summary = cross_validate(dataset, out, resolved, options)
    for name, value in summary.metrics.items():
        typer.echo(f"{name:<10} {value.mean:.3f} ± {value.std:.3f}")
    typer.echo(f"grouping {summary.grouping}; results in {out}")


@app.command()
@one_line_errors
@training_options(without=("model", "num_nodes", "num_workers", "val_split", "freeze"))
@stage_options(StudyOptions)
def study(
    dataset: Annotated[Path, typer.Argument(help="dataset folder (images/, masks/)")],
    out: Annotated[Path, typer.Option(help="study folder")],
    val_split: Annotated[
        str | None, typer.Option(help="validate every run on this list (one fold), e.g. val")
    ] = None,
    *,
    options: StudyOptions,
    settings: dict[str, Any],
) -> None:
    """The paper's sample-size study and Table 1; rerun to resume (finished runs skipped)."""
    from quakeslide.config import TrainConfig
    from quakeslide.folders import StudyFolder
    from quakeslide.training.study import run_study

    resolved = TrainConfig.resolve(settings.pop("config"), val_split=val_split, **settings)
    summary = run_study(dataset, out, resolved, options)
    typer.echo(StudyFolder(out).table_md.read_text())
    typer.echo(f"{summary.runs} runs, {summary.wall_seconds / 3600:.2f} h; results in {out}")


@app.command("selection-study")
@one_line_errors
@training_options(without=("model", "num_nodes", "num_workers"))
@stage_options(SelectionStudyOptions)
def selection_study(
    dataset: Annotated[Path, typer.Argument(help="dataset folder (images/, masks/)")],
    out: Annotated[Path, typer.Option(help="study folder")],
    *,
    options: SelectionStudyOptions,
    settings: dict[str, Any],
) -> None:
    """Label where the model is unsure, or at random? Rounds of windows from --train-split
    (their masks stand in for a mapper's corrections), each a fine-tune from --init scored on
    --val-split; rerun to resume."""
    from quakeslide.config import TrainConfig
    from quakeslide.folders import SelectionStudyFolder
    from quakeslide.training.selection_study import run_selection_study

    resolved = TrainConfig.resolve(settings.pop("config"), **settings)
    summary = run_selection_study(dataset, out, resolved, options)
    typer.echo(SelectionStudyFolder(out).curves_md.read_text())
    typer.echo(f"{summary.runs} runs, {summary.wall_seconds / 3600:.2f} h; results in {out}")


@app.command()
@one_line_errors
@stage_options(PredictOptions)
def predict(
    paths: Annotated[
        list[Path],
        typer.Argument(help=f"MODEL: {MODEL_HELP}; then scenes or folders; --onnx: scenes"),
    ],
    out: Annotated[Path, typer.Option(help="output folder")],
    onnx: Annotated[Path | None, typer.Option(help="an exported model, run by onnxruntime")] = None,
    *,
    options: PredictOptions,
) -> None:
    """Map landslides over whole scenes: probability / mask GeoTIFFs, polygons, summary.

    Under torchrun the scenes are shared out among the processes.
    """
    from quakeslide.inference.scenes import predict_scenes

    checkpoint = paths[0] if onnx is None else None
    scene_paths = list(paths) if onnx is not None else list(paths[1:])
    for scene, outputs in predict_scenes(checkpoint, onnx, scene_paths, out, options):
        if outputs is None:
            typer.echo(f"{scene.name}: outputs exist in {out}, skipped")
            continue
        typer.echo(f"{scene.name}:")
        for path in outputs.__dict__.values():
            typer.echo(f"  {path}")


@app.command()
@one_line_errors
@stage_options(SuggestOptions)
def suggest(
    paths: Annotated[list[Path], typer.Argument(help=f"MODEL: {MODEL_HELP}; then scenes")],
    out: Annotated[Path, typer.Option(help="output folder")],
    *,
    options: SuggestOptions,
) -> None:
    """Where to draw next: the squares the model is least sure of, with chips and Labelme
    files pre-filled with its outlines."""
    from quakeslide.inference.suggest import suggest as suggest_squares

    if len(paths) < 2:
        from quakeslide.errors import InputError

        raise InputError("name a model, then at least one scene")
    chosen = suggest_squares(paths[0], list(paths[1:]), out, options)
    for rank, square in enumerate(chosen, start=1):
        w = square.window
        typer.echo(f"{rank:3d}  {square.scene.name}  col {int(w.col_off)} row {int(w.row_off)}"
                   f"  uncertainty {square.score:.3f} bits  ({square.picked_by})")  # fmt: skip
    typer.echo(f"{out}/suggestions.gpkg, {out}/chips/")


@app.command()
@one_line_errors
@stage_options(ExportOptions)
def export(
    checkpoint: Annotated[Path, typer.Argument(help="trained checkpoint (.ckpt)")],
    out: Annotated[Path, typer.Option(help="ONNX file to write")] = Path("model.onnx"),
    *,
    options: ExportOptions,
) -> None:
    """Export to ONNX (dynamic batch, height, width), checked against torch on random input."""
    from quakeslide.export import export_model

    result = export_model(checkpoint, out, options)
    typer.echo(
        f"{result.path}: max |onnxruntime - torch| = {result.max_abs_diff:.2e} (output),"
        f" {result.max_prob_diff:.2e} (probability)"
    )


@app.command()
@one_line_errors
@stage_options(EvaluateOptions)
def evaluate(
    checkpoint: Annotated[Path, typer.Argument(help=MODEL_HELP)],
    dataset: Annotated[Path, typer.Argument(help="tile dataset (images/, masks/)")],
    out: Annotated[Path, typer.Option(help="evaluation folder")],
    *,
    options: EvaluateOptions,
) -> None:
    """Pixel and object scores, a threshold sweep and error panels on a tile dataset."""
    from quakeslide.evaluation.run import run_evaluation
    from quakeslide.folders import EvaluationFolder

    metrics = run_evaluation(checkpoint, dataset, out, options)
    best = metrics.best_threshold
    typer.echo(
        f"{metrics.tiles} tiles, threshold {metrics.threshold:.3f}: precision"
        f" {metrics.precision:.3f} recall {metrics.recall:.3f} F1 {metrics.f1:.3f} IoU"
        f" {metrics.iou:.3f} (F1-best threshold {best['threshold']:.2f}: F1 {best['f1']:.3f})"
    )
    if forgiving := metrics.outline_tolerance:
        typer.echo(
            f"  pixels within {forgiving['pixels']} px of a drawn outline left out"
            f" ({forgiving['left_out']:.1%}): precision {forgiving['precision']:.3f} recall"
            f" {forgiving['recall']:.3f} F1 {forgiving['f1']:.3f} IoU {forgiving['iou']:.3f}"
        )
    typer.echo(f"  {EvaluationFolder(out).metrics}")


@app.command()
@one_line_errors
@stage_options(InventoryOptions)
def inventory(
    inputs: Annotated[
        list[Path], typer.Argument(help="prediction folders or vector files (one event)")
    ],
    out: Annotated[Path, typer.Option(help="inventory folder")],
    truth: Annotated[
        list[Path] | None,
        typer.Option(help="truth inventory of the event: vector file or mask (repeatable)"),
    ] = None,
    *,
    options: InventoryOptions,
) -> None:
    """The event inventory: count, area, frequency-area fits, magnitude, volume, density."""
    from quakeslide.folders import InventoryFolder
    from quakeslide.inventory.run import run_inventory

    record = run_inventory(inputs, out, options, truth)
    typer.echo(f"{record.count} landslides, {record.total_area_m2 / 1e6:.3f} km2")
    if record.tail:
        low, high = record.tail.exponent_ci
        typer.echo(
            f"tail: beta {record.tail.exponent:.2f} ({low:.2f}-{high:.2f}) above"
            f" {record.tail.cutoff_m2:,.0f} m2 ({record.tail.n_tail} landslides); mLS"
            f" {record.mls:.2f}"
        )
    for fit, why in record.refused.items():
        typer.echo(f"{fit}: not fitted ({why})")
    v = record.volume_m3
    typer.echo(f"volume ({v.model}): {v.median:,.0f} m3 ({v.low:,.0f}-{v.high:,.0f})")
    if record.truth and record.compare:
        c, true = record.compare, record.truth
        typer.echo(
            f"truth: {true.count} landslides, {true.total_area_m2 / 1e6:.3f} km2; count ratio"
            f" {c['count_ratio']:.2f}, area ratio {c['area_ratio']:.2f}"
        )
        if not c["overlap"]:
            typer.echo("the truth does not overlap the mapped ground: no landslide matched")
    typer.echo(f"  {InventoryFolder(out).record}")


@app.command("pseudo-label")
@one_line_errors
@stage_options(PseudoLabelOptions)
def pseudo_label(
    checkpoint: Annotated[Path, typer.Argument(help=MODEL_HELP)],
    dataset: Annotated[Path, typer.Argument(help="tile dataset (images/, masks/)")],
    out: Annotated[Path, typer.Option(help="new dataset folder")],
    *,
    options: PseudoLabelOptions,
) -> None:
    """Self-training: label unlabelled tiles where the model is sure (ignore between --low and
    --high), for `train OUT --train-split with-pseudo`."""
    from quakeslide.inference.pseudo_label import pseudo_label as run_pseudo_label

    result = run_pseudo_label(checkpoint, dataset, out, options)
    typer.echo(
        f"{len(result.stems)} tiles pseudo-labelled: {result.labelled_share:.1%} of their pixels"
        f" labelled, {result.landslide_share:.1%} of those landslide"
    )
    typer.echo(f"dataset: {result.dataset} (train with --train-split with-pseudo)")


@app.command()
@one_line_errors
def report(
    folder: Annotated[
        Path,
        typer.Argument(
            help="run, cv, study, evaluation, prediction, inventory or suggestion folder"
        ),
    ],
    out: Annotated[Path, typer.Option(help="HTML page, markdown beside")] = Path("report.html"),
) -> None:
    """One self-contained HTML page (figures embedded) of a result folder, plus markdown."""
    from quakeslide.reporting.write_report import write_report

    html, markdown = write_report(folder, out)
    typer.echo(f"  {html}\n  {markdown}")


@app.command()
@one_line_errors
@stage_options(BenchOptions)
def bench(
    out: Annotated[Path, typer.Option(help="folder for bench.json and bench.md")] = Path("bench"),
    *,
    options: BenchOptions,
) -> None:
    """Conv peak of this machine, then U-Net and LinkNet speed: fp32 vs the fast path."""
    from quakeslide.bench.run import run_bench

    run_bench(out, options, typer.echo)
    typer.echo(f"  {out / 'bench.json'}\n  {out / 'bench.md'}")


@app.command()
@one_line_errors
def demo(
    out: Annotated[Path, typer.Option(help="output folder")] = Path("quakeslide-demo"),
    epochs: Annotated[int, typer.Option()] = 0,
    precision: Precision = "auto",
) -> None:
    """Synthetic scenes -> tiles -> LinkNet -> whole-scene map of the test scene, scored."""
    from quakeslide.demo import DemoSettings, run_demo

    settings = DemoSettings(precision=precision, **({"epochs": epochs} if epochs else {}))
    run_demo(out, settings, echo=typer.echo)


def main() -> None:
    keep_freed_memory()
    app()
