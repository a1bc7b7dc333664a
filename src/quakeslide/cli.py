"""Command line: parse options, call one function, print where the results went."""

from __future__ import annotations

import functools
import logging
import textwrap
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from quakeslide.allocator import keep_freed_memory
from quakeslide.errors import InputError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


def one_line_errors(command: Callable) -> Callable:
    """Report bad input as one line on stderr with exit code 2, not a traceback.

    ValueError covers option values rejected by pydantic or the model registry.
    """

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (InputError, ValueError) as err:
            message = " ".join(str(err).split())
            typer.secho(f"error: {message}", err=True, fg="red")
            raise typer.Exit(2) from None

    return wrapper


def quiet_libraries() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    logging.getLogger("pyogrio").setLevel(logging.WARNING)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    logging.getLogger("lightning.fabric").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*Dataset is not georeferenced.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*is deprecated.*")
    warnings.filterwarnings("ignore", ".*Checkpoint directory .* exists and is not empty.*")


@app.command()
@one_line_errors
def models(size: Annotated[int, typer.Option(help="input side for GMACs")] = 256) -> None:
    """Table of the architectures: our parameter counts, the paper's, GMACs."""
    from quakeslide.models.complexity import PARAMETER_NOTE, models_table

    typer.echo(f"{'architecture':<12} {'params':>12} {'paper':>8} {f'GMACs@{size}':>12}")
    for row in models_table(size):
        typer.echo(
            f"{row['architecture']:<12} {row['params_m']:>10.2f} M {row['paper_params_m']:>6.1f} M"
            f" {row['gmacs']:>12.2f}"
        )
    typer.echo("\n" + textwrap.fill(PARAMETER_NOTE, width=100))


@app.command()
@one_line_errors
def synth(
    out: Annotated[Path, typer.Option(help="output folder")],
    name: Annotated[str, typer.Option(help="scene name (file stem)")] = "scene",
    size: Annotated[int, typer.Option(help="scene side in pixels")] = 2048,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Write a synthetic post-earthquake scene: GeoTIFF, truth mask, GeoPackage, Labelme JSON."""
    from quakeslide.data.synthetic import SceneSpec, make_scene

    scene = make_scene(out, name, SceneSpec(height=size, width=size, seed=seed))
    typer.echo(f"{scene.n_landslides} landslides ({scene.landslide_fraction:.1%} of pixels)")
    for path in (scene.image_path, scene.mask_path, scene.polygons_path, scene.labelme_path):
        typer.echo(f"  {path}")


@app.command()
@one_line_errors
def tile(
    labels: Annotated[Path, typer.Option(help="Labelme JSON/folder, vector file, mask(s)")],
    out: Annotated[Path, typer.Option(help="dataset folder to create")],
    scenes: Annotated[
        list[Path] | None,
        typer.Argument(help="scene(s): GeoTIFF, TIFF, PNG, JPEG; none: the Labelme files' images"),
    ] = None,
    size: Annotated[int, typer.Option(help="tile side in pixels")] = 256,
    stride: Annotated[int | None, typer.Option(help="default: the tile size")] = None,
    keep_empty: Annotated[
        float | None, typer.Option(help="keep at most R landslide-free tiles per landslide tile")
    ] = None,
    bands: Annotated[str | None, typer.Option(help="source bands as R,G,B, e.g. 3,2,1")] = None,
    label_format: Annotated[str, typer.Option(help="auto, labelme, vector, mask")] = "auto",
    label_names: Annotated[
        str | None, typer.Option(help="Labelme labels meaning landslide, comma separated")
    ] = None,
    mask_encoding: Annotated[str, typer.Option(help="auto, 01, 0255, palette, rgb")] = "auto",
    mask_color: Annotated[
        str | None, typer.Option(help="landslide colour in RGB masks, e.g. 255,0,0")
    ] = None,
    assume_crs: Annotated[
        str | None, typer.Option(help="CRS of a vector file that has none, e.g. EPSG:32648")
    ] = None,
    seed: Annotated[int, typer.Option(help="seed for --keep-empty's choice")] = 0,
) -> None:
    """Cut scenes and their landslide labels into a dataset of image / mask tiles."""
    from quakeslide.data.tiling import TilingOptions, tile_scenes

    quiet_libraries()
    options = TilingOptions(
        size=size,
        stride=stride,
        keep_empty=keep_empty,
        bands=_ints(bands, "--bands"),
        label_format=label_format,
        label_names=set(label_names.split(",")) if label_names else None,
        mask_encoding=mask_encoding,
        mask_color=_rgb(mask_color),
        assume_crs=assume_crs,
        seed=seed,
    )
    result = tile_scenes(scenes or [], labels, out, options)
    typer.echo(
        f"{result.tiles} tiles ({result.landslide_tiles} with landslides) in {result.dataset}"
    )
    typer.echo(", ".join(f"{k} {v}" for k, v in result.counts.items()))


def _ints(text: str | None, option: str) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise InputError(f"{option} {text!r}: expected comma-separated integers") from None


def _rgb(text: str | None) -> tuple[int, int, int] | None:
    values = _ints(text, "--mask-color")
    if values is not None and (len(values) != 3 or not all(0 <= v <= 255 for v in values)):
        raise InputError(f"--mask-color {text!r}: expected R,G,B with values 0-255")
    return tuple(values) if values is not None else None


ConfigFile = Annotated[Path | None, typer.Option("--config", help="YAML file of options")]
Model = Annotated[str | None, typer.Option(help="linknet or unet [default: linknet]")]
Epochs = Annotated[int | None, typer.Option(help="[default: 90]")]
BatchSize = Annotated[int | None, typer.Option(help="[default: 5]")]
LearningRate = Annotated[float | None, typer.Option(help="Adam learning rate [default: 1e-3]")]
StepSize = Annotated[int | None, typer.Option(help="StepLR period in epochs [default: 30]")]
Augment = Annotated[
    int | None, typer.Option(help="each tile 1x as is + (N-1)x augmented per epoch [default: 5]")
]
Crop = Annotated[int | None, typer.Option(help="train on random crops of this side")]
MaxTiles = Annotated[int | None, typer.Option(help="use at most this many tiles")]
Seed = Annotated[int | None, typer.Option(help="[default: 0]")]
Accelerator = Annotated[str | None, typer.Option(help="auto, cpu, cuda/gpu [default: auto]")]
Devices = Annotated[int | None, typer.Option(help="processes per node (DDP when > 1)")]
NumNodes = Annotated[int | None, typer.Option(help="machines (DDP)")]
Precision = Annotated[
    str | None, typer.Option(help="auto, 32-true, bf16-mixed, 16-mixed [default: auto]")
]
Workers = Annotated[int | None, typer.Option(help="data loader worker processes [default: 0]")]
TrainSplit = Annotated[str | None, typer.Option(help="e.g. train (reads train.txt)")]
ValSplit = Annotated[str | None, typer.Option(help="e.g. val (reads val.txt)")]


@app.command()
@one_line_errors
def train(
    dataset: Annotated[Path, typer.Argument(help="dataset folder (images/, masks/)")],
    out: Annotated[Path, typer.Option(help="run folder")],
    config: ConfigFile = None,
    resume: Annotated[bool, typer.Option(help="continue the run in OUT from last.ckpt")] = False,
    model: Model = None,
    epochs: Epochs = None,
    batch_size: BatchSize = None,
    lr: LearningRate = None,
    step_size: StepSize = None,
    augment: Augment = None,
    crop: Crop = None,
    max_tiles: MaxTiles = None,
    seed: Seed = None,
    accelerator: Accelerator = None,
    devices: Devices = None,
    num_nodes: NumNodes = None,
    precision: Precision = None,
    num_workers: Workers = None,
    train_split: TrainSplit = None,
    val_split: ValSplit = None,
) -> None:
    """Train a model with the paper's settings (cross-entropy, Adam 1e-3, StepLR 30, batch 5).

    Options override --config, which overrides the defaults; with --resume the run's own
    config.yaml is the base.
    """
    from quakeslide.config import TrainConfig
    from quakeslide.device import is_launch_rank_zero
    from quakeslide.training.fit import train as run_training

    quiet_libraries()
    saved = out / "config.yaml"
    base = saved if resume and config is None and saved.exists() else config
    options = {k: v for k, v in locals().items() if k in TrainConfig.model_fields}
    resolved = TrainConfig.resolve(base, **options)
    result = run_training(dataset, out, resolved, resume=resume)
    best = result.summary["best"]
    if not is_launch_rank_zero():
        return
    if best:
        typer.echo(
            f"best epoch {best['epoch']}: F1 {best['f1']:.3f} precision {best['precision']:.3f}"
            f" recall {best['recall']:.3f} IoU {best['iou']:.3f}"
        )
    typer.echo(f"run folder: {result.run}\nbest checkpoint: {result.best_checkpoint}")


@app.command()
@one_line_errors
def cv(
    dataset: Annotated[Path, typer.Argument(help="dataset folder (images/, masks/)")],
    out: Annotated[Path, typer.Option(help="cross-validation folder")],
    folds: Annotated[int, typer.Option(help="number of folds")] = 5,
    grouping: Annotated[
        str, typer.Option(help="auto, blocks (touching tiles stay together) or random")
    ] = "auto",
    config: ConfigFile = None,
    model: Model = None,
    epochs: Epochs = None,
    batch_size: BatchSize = None,
    lr: LearningRate = None,
    step_size: StepSize = None,
    augment: Augment = None,
    crop: Crop = None,
    max_tiles: MaxTiles = None,
    seed: Seed = None,
    accelerator: Accelerator = None,
    devices: Devices = None,
    precision: Precision = None,
    train_split: TrainSplit = None,
) -> None:
    """k-fold cross-validation; finished folds are kept and stopped ones resumed on rerun."""
    from quakeslide.config import TrainConfig
    from quakeslide.training.cv import cross_validate

    quiet_libraries()
    options = {k: v for k, v in locals().items() if k in TrainConfig.model_fields}
    summary = cross_validate(dataset, out, TrainConfig.resolve(config, **options), folds, grouping)
    for name, value in summary["metrics"].items():
        typer.echo(f"{name:<10} {value['mean']:.3f} ± {value['std']:.3f}")
    typer.echo(f"grouping {summary['grouping']}; results in {out}")


@app.command()
@one_line_errors
def study(
    dataset: Annotated[Path, typer.Argument(help="dataset folder (images/, masks/)")],
    out: Annotated[Path, typer.Option(help="study folder")],
    models: Annotated[str, typer.Option(help="comma separated")] = "unet,linknet",
    sizes: Annotated[str, typer.Option(help="training-set sizes, nested")] = "100,200,300,400",
    folds: Annotated[int, typer.Option(help="folds when no --val-split is given")] = 5,
    grouping: Annotated[str, typer.Option(help="auto, blocks or random")] = "auto",
    config: ConfigFile = None,
    epochs: Epochs = None,
    batch_size: BatchSize = None,
    lr: LearningRate = None,
    step_size: StepSize = None,
    augment: Augment = None,
    crop: Crop = None,
    max_tiles: MaxTiles = None,
    seed: Seed = None,
    accelerator: Accelerator = None,
    devices: Devices = None,
    precision: Precision = None,
    train_split: TrainSplit = None,
    val_split: Annotated[
        str | None, typer.Option(help="validate every run on this list (one fold), e.g. val")
    ] = None,
) -> None:
    """The paper's sample-size study and Table 1; rerun to resume (finished runs skipped)."""
    from quakeslide.config import TrainConfig
    from quakeslide.training.study import run_study

    quiet_libraries()
    options = {k: v for k, v in locals().items() if k in TrainConfig.model_fields}
    resolved = TrainConfig.resolve(config, **options)
    model_list = [m.strip().lower() for m in models.split(",") if m.strip()]
    for name in model_list:
        TrainConfig(model=name)
    size_list = _ints(sizes, "--sizes") or []
    summary = run_study(dataset, out, resolved, model_list, size_list, folds, grouping)
    typer.echo((out / "table1.md").read_text())
    typer.echo(f"{summary['runs']} runs, {summary['wall_seconds'] / 3600:.2f} h; results in {out}")


@app.command()
@one_line_errors
def predict(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="CHECKPOINT (.ckpt) then scene file(s) or folder(s); with --onnx: scenes"
        ),
    ],
    out: Annotated[Path, typer.Option(help="output folder")],
    onnx: Annotated[
        Path | None, typer.Option(help="run this exported model with onnxruntime instead")
    ] = None,
    threshold: Annotated[float, typer.Option()] = 0.5,
    min_area: Annotated[
        float, typer.Option(help="drop polygons smaller than this (m2; pixels if size unknown)")
    ] = 0.0,
    tile: Annotated[int, typer.Option(help="window side in pixels")] = 256,
    overlap: Annotated[int | None, typer.Option(help="window overlap, default tile / 4")] = None,
    batch_size: Annotated[int, typer.Option()] = 8,
    bands: Annotated[str | None, typer.Option(help="source bands as R,G,B, e.g. 3,2,1")] = None,
    pixel_size: Annotated[
        float | None,
        typer.Option(help="metres per pixel of plain images (no georeference), for areas in m2"),
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
    precision: Annotated[str, typer.Option(help="auto, 32-true, bf16-mixed, 16-mixed")] = "auto",
) -> None:
    """Map landslides over whole scenes: probability / mask GeoTIFFs, polygons, summary.

    Under torchrun the scenes are shared out among the processes.
    """
    from quakeslide.device import configure_cpu_threads, plan_compute
    from quakeslide.inference.engines import onnx_engine, torch_engine
    from quakeslide.inference.predict import PredictionOutputs, predict_scene
    from quakeslide.inference.shards import bind_local_gpu, launch_ranks, my_scenes
    from quakeslide.io.raster import expand_scenes, writable_folder
    from quakeslide.training.module import load_net

    quiet_libraries()
    scene_paths = list(paths) if onnx is not None else list(paths[1:])
    if not scene_paths:
        raise InputError("no scene given: quakeslide predict CHECKPOINT SCENE... --out DIR")
    scenes = my_scenes(expand_scenes(scene_paths))
    threads = configure_cpu_threads(launch_ranks()[3])
    if onnx is not None:
        engine = onnx_engine(onnx, threads)
    else:
        bind_local_gpu()
        engine = torch_engine(load_net(paths[0])[0], plan_compute(device, precision))
    writable_folder(out)
    for scene in scenes:
        if PredictionOutputs.for_scene(scene, out).finished():
            typer.echo(f"{scene.name}: outputs exist in {out}, skipped")
            continue
        outputs = predict_scene(
            engine,
            scene,
            out,
            threshold=threshold,
            min_area_m2=min_area,
            tile=tile,
            overlap=overlap,
            batch_size=batch_size,
            bands=_ints(bands, "--bands"),
            pixel_size=pixel_size,
        )
        typer.echo(f"{scene.name}:")
        for path in outputs.__dict__.values():
            typer.echo(f"  {path}")


@app.command()
@one_line_errors
def export(
    checkpoint: Annotated[Path, typer.Argument(help="trained checkpoint (.ckpt)")],
    out: Annotated[Path, typer.Option(help="ONNX file to write")] = Path("model.onnx"),
    opset: Annotated[int, typer.Option(help="ONNX opset")] = 18,
) -> None:
    """Export to ONNX (dynamic batch, height, width), checked against torch on random input."""
    from quakeslide.export import export_onnx

    quiet_libraries()
    result = export_onnx(checkpoint, out, opset)
    typer.echo(
        f"{result.path}: max |onnxruntime - torch| = {result.max_abs_diff:.2e} (logits),"
        f" {result.max_prob_diff:.2e} (probability)"
    )


@app.command()
@one_line_errors
def evaluate(
    checkpoint: Annotated[Path, typer.Argument(help="trained checkpoint (.ckpt)")],
    dataset: Annotated[Path, typer.Argument(help="tile dataset (images/, masks/)")],
    out: Annotated[Path, typer.Option(help="evaluation folder")],
    split: Annotated[str | None, typer.Option(help="evaluate the tiles of <split>.txt")] = None,
    threshold: Annotated[float, typer.Option(help="landslide when probability >= this")] = 0.5,
    pixel_size: Annotated[
        float | None,
        typer.Option(help="metres per pixel, for size classes in m2 (read from GeoTIFF tiles)"),
    ] = None,
    compare: Annotated[
        Path | None, typer.Option(help="a second checkpoint, shown side by side on the same tiles")
    ] = None,
    panels: Annotated[int, typer.Option(help="tiles per panel figure (best / worst)")] = 4,
    max_tiles: Annotated[int | None, typer.Option(help="evaluate only the first N tiles")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
    precision: Annotated[str, typer.Option(help="auto, 32-true, bf16-mixed, 16-mixed")] = "auto",
) -> None:
    """Pixel and object scores, a threshold sweep and error panels on a tile dataset."""
    from quakeslide.device import configure_cpu_threads, plan_compute
    from quakeslide.evaluation.run import run_evaluation

    quiet_libraries()
    configure_cpu_threads()
    metrics = run_evaluation(
        checkpoint,
        dataset,
        out,
        plan_compute(device, precision),
        split=split,
        threshold=threshold,
        pixel_size=pixel_size,
        compare=compare,
        panels=panels,
        max_tiles=max_tiles,
    )
    best = metrics["best_threshold"]
    typer.echo(
        f"{metrics['tiles']} tiles: precision {metrics['precision']:.3f} recall"
        f" {metrics['recall']:.3f} F1 {metrics['f1']:.3f} IoU {metrics['iou']:.3f}"
        f" (F1-best threshold {best['threshold']:.2f}: F1 {best['f1']:.3f}, not applied)"
    )
    typer.echo(f"  {out / 'metrics.json'}")


@app.command()
@one_line_errors
def report(
    folder: Annotated[
        Path, typer.Argument(help="a run, cv, study, evaluation or prediction folder")
    ],
    out: Annotated[Path, typer.Option(help="HTML file; the markdown twin goes beside it")] = Path(
        "report.html"
    ),
) -> None:
    """One self-contained HTML page (figures embedded) of a result folder, plus markdown."""
    from quakeslide.reporting.write_report import write_report

    quiet_libraries()
    html, markdown = write_report(folder, out)
    typer.echo(f"  {html}\n  {markdown}")


@app.command()
@one_line_errors
def bench(
    out: Annotated[Path, typer.Option(help="folder for bench.json and bench.md")] = Path("bench"),
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
    size: Annotated[int, typer.Option(help="image side")] = 256,
    seconds: Annotated[float, typer.Option(help="minimum timed seconds per measurement")] = 5.0,
    models: Annotated[str, typer.Option(help="comma-separated")] = "unet,linknet",
    infer_batch: Annotated[int, typer.Option()] = 8,
    train_batch: Annotated[int, typer.Option(help="the paper's batch size")] = 5,
    compile: Annotated[
        bool, typer.Option(help="also measure the fast path torch.compiled")
    ] = False,
    emulate_avx2: Annotated[
        bool,
        typer.Option(help="limit oneDNN/ATen to AVX2; fast path as an AVX2-only CPU gets it"),
    ] = False,
) -> None:
    """Conv peak of this machine, then U-Net and LinkNet speed: fp32 vs the fast path."""
    from quakeslide.bench.run import run_bench
    from quakeslide.models import model_names

    names = tuple(m.strip() for m in models.split(",") if m.strip())
    unknown = set(names) - set(model_names())
    if unknown or not names:
        raise InputError(f"models {models!r}: choose from {', '.join(model_names())}")
    if size < 32 or seconds <= 0 or infer_batch < 1 or train_batch < 1:
        raise InputError("size >= 32, seconds > 0 and batch sizes >= 1 are needed")
    quiet_libraries()
    run_bench(
        out, device, size, seconds, infer_batch, train_batch, names, compile, typer.echo,
        emulate_avx2,
    )  # fmt: skip
    typer.echo(f"  {out / 'bench.json'}\n  {out / 'bench.md'}")


@app.command()
@one_line_errors
def demo(
    out: Annotated[Path, typer.Option(help="output folder")] = Path("quakeslide-demo"),
    epochs: Annotated[int, typer.Option()] = 0,
    precision: Annotated[str, typer.Option(help="auto, 32-true, bf16-mixed")] = "auto",
) -> None:
    """Synthetic scenes -> tiles -> LinkNet -> whole-scene map of the test scene, scored."""
    from quakeslide.demo import DemoSettings, run_demo

    quiet_libraries()
    settings = DemoSettings(precision=precision)
    if epochs:
        settings = DemoSettings(precision=precision, epochs=epochs)
    run_demo(out, settings, echo=typer.echo)


def main() -> None:
    keep_freed_memory()
    app()
