"""Stage options as pydantic models: the base every stage's options share, and the values
several stages take, each with its bounds, choices and help stated once.

A field's `description` is its help text in every command; `cli_options.stage_options`
turns the fields into command-line options. A Python caller builds the same object and
gets the same checks (`resolve` reports them as one `InputError` line).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from typing_extensions import Self

from quakeslide.catalogue import check_model_name
from quakeslide.errors import InputError

# a field typed on the command line as text, parsed by the field's own validator
TEXT_ON_COMMAND_LINE = {"text": True}
# how an error names a field: as itself, or as the command line's option (`resolve`)
_field_naming: ContextVar[Callable[[str], str]] = ContextVar("field_naming", default=str)


def named(field: str) -> str:
    """An option as an error or hint calls it: `size_unit` for a Python caller,
    `--size-unit` on the command line (see `fields_named`)."""
    return _field_naming.get()(field)


@contextmanager
def fields_named(naming: Callable[[str], str]) -> Iterator[None]:
    """Within: `named` calls each option `naming(name)` (the command line: its flag)."""
    token = _field_naming.set(naming)
    try:
        yield
    finally:
        _field_naming.reset(token)


class StageOptions(BaseModel):
    """Options of one stage; unknown names are refused."""

    model_config = ConfigDict(extra="forbid")
    what: ClassVar[str] = "options"  # what an error calls them

    @classmethod
    def resolve(cls, base: Path | None = None, **given: Any) -> Self:
        """Defaults, then the YAML file `base`, then the values given (not None); every
        problem in one InputError line, each field named by `named` (by its own name where
        a YAML file is read: it may come from there)."""
        values = read_yaml(base) if base is not None else {}
        values.update({k: v for k, v in given.items() if v is not None})
        with fields_named(str if base is not None else _field_naming.get()):
            try:
                return cls(**values)
            except ValidationError as err:
                where = f"{base}: " if base is not None else ""
                raise InputError(f"{where}bad {cls.what}: {problems(err)}") from None

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def problems(err: ValidationError) -> str:
    """pydantic's errors as `field: problem; ...` (a check of several fields: the problem)."""
    found = []
    for error in err.errors():
        where = ".".join(
            [named(str(part)) for part in error["loc"][:1]]
            + [str(part) for part in error["loc"][1:]]
        )
        found.append(f"{where}: {problem(error)}" if where else problem(error))
    return "; ".join(found)


def problem(error: Any) -> str:
    """One pydantic error's message, as the rest of a sentence."""
    text = error["msg"].removeprefix("Value error, ")
    return text[:1].lower() + text[1:]


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        values = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: config file not found") from None
    except yaml.YAMLError as err:
        raise InputError(f"{path}: not valid YAML ({' '.join(str(err).split())})") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise InputError(f"{path}: a config file must be a mapping of option: value")
    return values


def _auto_is_none(value: Any) -> Any:
    return None if value == "auto" else value


def comma_separated_ints(value: Any) -> Any:
    """Text "3,2,1" as [3, 2, 1]; anything else as it is."""
    if not isinstance(value, str):
        return value
    try:
        return [int(v) for v in value.split(",")]
    except ValueError:
        raise ValueError("expected comma-separated integers") from None


def _comma_separated_list(value: Any) -> Any:
    """Text "b,a" as ["b", "a"], in order, each once; anything else as it is."""
    if not isinstance(value, str):
        return value
    return list(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))


def _comma_separated_names(value: Any) -> Any:
    return set(value.split(",")) if isinstance(value, str) else value


def _model_list(value: Any) -> Any:
    """Text "unet,linknet" (or a list) as known model names, in order, each once."""
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, list | tuple):
        return value
    names = [check_model_name(n.strip()) for n in names if n.strip()]
    if not names:
        raise ValueError("name at least one model")
    return list(dict.fromkeys(names))


def _rgb(value: Any) -> Any:
    values = comma_separated_ints(value)
    if isinstance(value, str) and (len(values) != 3 or not all(0 <= v <= 255 for v in values)):
        raise ValueError("expected R,G,B with values 0-255")
    return tuple(values) if isinstance(values, list) else values


def renamed(old: str, new: str) -> BeforeValidator:
    """Reads a choice's former spelling (in saved configs and scripts) as its new one."""
    return BeforeValidator(lambda value: new if value == old else value)


Threshold = Annotated[
    Annotated[float, Field(gt=0, lt=1)] | None,
    BeforeValidator(_auto_is_none),
    Field(
        description="landslide where probability >= this, between 0 and 1; auto: the"
        " model's calibrated threshold",
        json_schema_extra=TEXT_ON_COMMAND_LINE,
    ),
]
Tta = Annotated[
    Literal["none", "flip", "d4"],
    Field(
        description="test-time augmentation: none, flip (4 mirrored views) or d4 (8: rotations too)"
    ),
]
# The input's statistics: the model's (recorded from its training tiles) or the input's own:
# the fine-tuning dataset's in training, each scene's in predict, each source scene's
# tiles in evaluate (for another sensor or event).
Normalization = Literal["checkpoint", "own"]


def normalization_field(former: str, own: str, prefix: str = "") -> Any:
    """The field type of a stage's normalization: `former` is the spelling of `own` that
    stage used before (still read); `own` says whose statistics."""
    return Annotated[
        Normalization,
        renamed(former, "own"),
        Field(
            description=f"{prefix}standardise the input by the model's training statistics"
            f" (checkpoint) or by its own (own: {own})"
        ),
    ]


Device = Annotated[
    Literal["auto", "cpu", "cuda"], Field(description="where the model runs: auto, cpu or cuda")
]
Precision = Annotated[
    Literal["auto", "32-true", "bf16-mixed", "16-mixed"],
    Field(description="auto (the fastest exact-enough one here), 32-true, bf16-mixed, 16-mixed"),
]
# How predict keeps touching landslides apart (io/separation.py)
Separation = Literal["none", "shape", "probability"]
PixelSize = Annotated[
    float | None,
    Field(gt=0, description="metres per pixel (plain images, or areas in m2)"),
]
Bands = Annotated[
    list[int] | None,
    BeforeValidator(comma_separated_ints),
    Field(description="source bands as R,G,B, e.g. 3,2,1", json_schema_extra=TEXT_ON_COMMAND_LINE),
]
BatchSize = Annotated[int, Field(ge=1, description="windows per forward pass")]
Grouping = Annotated[
    Literal["auto", "blocks", "scenes", "random"],
    Field(
        description="auto, blocks (touching tiles in one fold), scenes (a source scene's"
        " tiles in one fold) or random; auto: blocks where tile positions are known"
    ),
]
Folds = Annotated[int, Field(ge=2, description="number of folds")]
ModelNames = Annotated[
    list[str],
    BeforeValidator(_model_list),
    Field(description="comma separated", json_schema_extra=TEXT_ON_COMMAND_LINE),
]
ScoredEpoch = Annotated[
    Literal["best", "last"],
    Field(
        description="which epoch scores a run: best (best on the held-out tiles, the paper's"
        " protocol; optimistic) or last (chosen without looking at them)"
    ),
]


SceneNormalization = normalization_field("scene", "each scene's")
TilesNormalization = normalization_field("scene", "the tiles of each source scene")


class TileOptions(StageOptions):
    """`quakeslide tile`: how scenes and their labels are cut into tiles."""

    what: ClassVar[str] = "tile options"
    size: int = Field(256, ge=16, description="tile side in pixels")
    stride: int | None = Field(None, ge=1, description="default: the tile size")
    keep_empty: float | None = Field(
        None, ge=0, description="keep at most R landslide-free tiles per landslide tile"
    )
    extent: Path | None = Field(
        None,
        description="the areas whose labels were reviewed (vector file, any CRS): outside"
        " them pixels are ignored (255), tiles with none of them dropped",
    )
    bands: Bands = None
    label_format: Literal["auto", "labelme", "vector", "mask"] = Field(
        "auto", description="auto, labelme, vector, mask"
    )
    label_names: Annotated[
        set[str] | None,
        BeforeValidator(_comma_separated_names),
        Field(
            description="Labelme labels meaning landslide, comma separated",
            json_schema_extra=TEXT_ON_COMMAND_LINE,
        ),
    ] = None
    mask_encoding: Literal["auto", "01", "0255", "palette", "rgb"] = Field(
        "auto", description="auto, 01, 0255, palette, rgb"
    )
    mask_color: Annotated[
        tuple[int, int, int] | None,
        BeforeValidator(_rgb),
        Field(
            description="landslide colour in RGB masks, e.g. 255,0,0",
            json_schema_extra=TEXT_ON_COMMAND_LINE,
        ),
    ] = None
    assume_crs: str | None = Field(
        None, description="CRS of a vector file that has none, e.g. EPSG:32648"
    )
    seed: int = Field(0, description="seed of the random choice of landslide-free tiles")


class PredictOptions(StageOptions):
    """`quakeslide predict`: how a model maps whole scenes."""

    what: ClassVar[str] = "predict options"
    threshold: Threshold = 0.5
    tta: Tta = "none"
    normalization: SceneNormalization = "checkpoint"
    min_area: float = Field(0.0, ge=0, description="drop smaller polygons (m2, or px)")
    separation: Separation = Field(
        "shape",
        description="split a region holding touching landslides: shape (at narrow necks),"
        " probability (where it dips), or none",
    )
    tile: int = Field(256, ge=16, description="window side in pixels")
    overlap: int | None = Field(None, ge=0, description="window overlap, default tile / 4")
    batch_size: BatchSize = 8
    bands: Bands = None
    pixel_size: PixelSize = None
    device: Device = "auto"
    precision: Precision = "auto"


class EvaluateOptions(StageOptions):
    """`quakeslide evaluate`: which tiles, at which threshold, seen how."""

    what: ClassVar[str] = "evaluate options"
    split: str | None = Field(None, description="evaluate the tiles of <split>.txt")
    threshold: Threshold = 0.5
    tta: Tta = "none"
    normalization: TilesNormalization = "checkpoint"
    pixel_size: PixelSize = None
    compare: Path | None = Field(
        None, description="a second model, shown side by side on the same tiles"
    )
    panels: int = Field(4, ge=0, description="tiles per panel figure (best / worst)")
    max_tiles: int | None = Field(None, ge=1, description="only the first N tiles")
    tolerance: int = Field(
        2,
        ge=0,
        description="also score with the pixels within N px of a drawn outline left out"
        " (hand-drawn outlines are not exact to the pixel); 0: exact scores only",
    )
    device: Device = "auto"
    precision: Precision = "auto"


class PseudoLabelOptions(StageOptions):
    """`quakeslide pseudo-label`: which tiles, and how sure the model must be."""

    what: ClassVar[str] = "pseudo-label options"
    split: str = Field(description="the unlabelled tiles: <split>.txt")
    labelled_split: str | None = Field(
        None, description="tiles to train with them (with-pseudo.txt); default: all others"
    )
    low: float = Field(0.3, ge=0, le=1, description="background where probability <= this")
    high: float = Field(0.7, ge=0, le=1, description="landslide where probability >= this")
    tta: Tta = "flip"
    device: Device = "auto"
    precision: Precision = "auto"

    @model_validator(mode="after")
    def low_below_high(self) -> Self:
        if self.low > self.high:
            low, high = named("low"), named("high")
            raise ValueError(f"{low} {self.low} / {high} {self.high}: need {low} <= {high}")
        return self


class CvOptions(StageOptions):
    """`quakeslide cv`: how the tiles are cut into folds and how each fold's run is scored."""

    what: ClassVar[str] = "cv options"
    folds: Folds = 5
    grouping: Grouping = "auto"
    score: ScoredEpoch = "best"


class StudyOptions(StageOptions):
    """`quakeslide study`: which models, at which nested training-set sizes, over which
    folds (the paper's sample-size study)."""

    what: ClassVar[str] = "study options"
    models: ModelNames = ["unet", "linknet"]
    sizes: Annotated[
        list[Annotated[int, Field(ge=1)]],
        BeforeValidator(comma_separated_ints),
        Field(
            min_length=1,
            description="training-set sizes, nested, comma separated",
            json_schema_extra=TEXT_ON_COMMAND_LINE,
        ),
    ] = [100, 200, 300, 400]
    size_unit: Literal["tiles", "scenes"] = Field(
        "tiles", description="tiles, or scenes (whole source images; folds by scene)"
    )
    folds: Folds = 5
    grouping: Grouping = "auto"
    score: ScoredEpoch = "best"
    self_train: bool = Field(
        False,
        description="each run again with the held-out tiles as its last epoch labelled them",
    )

    @model_validator(mode="after")
    def scenes_fold_by_scene(self) -> Self:
        """Sizes counted in scenes need folds of whole scenes."""
        if self.size_unit == "scenes":
            if self.grouping not in ("auto", "scenes"):
                raise ValueError(
                    f"{named('size_unit')} scenes needs {named('grouping')} scenes,"
                    f" not {self.grouping}"
                )
            self.grouping = "scenes"
        return self


class SelectionStudyOptions(StageOptions):
    """`quakeslide selection-study`: which ways of choosing windows, how many windows
    labelled after each round, how many repeats."""

    what: ClassVar[str] = "selection study options"
    strategies: Annotated[
        list[Literal["uncertainty", "disagreement", "random", "mixed"]],
        BeforeValidator(_comma_separated_list),
        Field(
            min_length=1,
            description="comma separated: uncertainty, disagreement, random, mixed (as suggest's)",
            json_schema_extra=TEXT_ON_COMMAND_LINE,
        ),
    ] = ["uncertainty", "random"]
    sizes: Annotated[
        list[Annotated[int, Field(ge=1)]],
        BeforeValidator(comma_separated_ints),
        Field(
            min_length=1,
            description="windows labelled after each round, increasing, comma separated",
            json_schema_extra=TEXT_ON_COMMAND_LINE,
        ),
    ] = [5, 10, 15, 20]
    repeats: int = Field(3, ge=1, description="repeats (seeds of draws and training)")
    score: ScoredEpoch = "best"

    @field_validator("sizes")
    @classmethod
    def increasing(cls, sizes: list[int]) -> list[int]:
        if any(b <= a for a, b in zip(sizes, sizes[1:], strict=False)):
            raise ValueError(f"sizes must increase (each round adds windows): {sizes}")
        return sizes


class ExportOptions(StageOptions):
    """`quakeslide export`: plain ONNX (dynamic shapes), or the static one QGIS Deepness runs."""

    what: ClassVar[str] = "export options"
    opset: Annotated[
        int,
        Field(
            ge=7,
            le=23,
            description="ONNX opset, 7..23 (the Deepness export: 18)",
            json_schema_extra=TEXT_ON_COMMAND_LINE,
        ),
    ] = 18
    deepness: bool = Field(
        False, description="for QGIS Deepness: static square input, probabilities out"
    )
    tile: int | None = Field(
        None,
        ge=32,
        description="the Deepness input side; default: predict's window (256), so that"
        " Deepness, which pastes its tiles without blending, draws predict's map",
    )
    resolution: float | None = Field(
        None, gt=0, description="the Deepness map's cm per pixel; default: the training tiles'"
    )
    threshold: Annotated[
        Threshold,
        Field(
            description="the probability Deepness maps as landslide from: predict's default,"
            " so that Deepness draws predict's map; auto: the model's calibrated threshold"
            " (then run predict with --threshold auto too; Deepness applies a value below"
            " 0.5 as 0.5)"
        ),
    ] = 0.5

    @model_validator(mode="after")
    def deepness_settings_need_deepness(self) -> Self:
        deepness_only = [n for n in ("tile", "resolution") if getattr(self, n) is not None]
        deepness_only += ["threshold"] if "threshold" in self.model_fields_set else []
        given = [named(n) for n in deepness_only]
        if given and not self.deepness:
            raise ValueError(f"{' and '.join(given)} apply to the {named('deepness')} export only")
        return self


class InventoryOptions(StageOptions):
    """`quakeslide inventory`: the density grid and the volume-area law."""

    what: ClassVar[str] = "inventory options"
    grid: float = Field(1000.0, gt=0, description="density grid cell side in metres")
    min_area: float = Field(
        0.0,
        ge=0,
        description="mapping unit (m2): smaller landslides are left out, of the truth too",
    )
    volume: Literal["larsen-soil", "larsen-bedrock", "guzzetti"] = Field(
        "larsen-soil",
        description="volume-area law: larsen-soil, larsen-bedrock (Larsen et al. 2010) or"
        " guzzetti (Guzzetti et al. 2009)",
    )


class SuggestOptions(StageOptions):
    """`quakeslide suggest`: how many squares to suggest, how large, chosen how."""

    what: ClassVar[str] = "suggest options"
    n: int = Field(20, ge=1, description="squares to suggest")
    size: int = Field(256, ge=32, description="square side in pixels")
    labelled: Path | None = Field(
        None, description="areas already labelled (vector file, any CRS): not suggested"
    )
    strategy: Literal["random", "uncertainty", "disagreement", "mixed"] = Field(
        "random",
        description="random (measured best: docs/NEW_EVENT.md), uncertainty (the squares of"
        " highest entropy, spread out), disagreement (where the eight mirrored / rotated views,"
        " and an ensemble's members, disagree most, spread out; 8x the inference), or mixed"
        " (uncertainty, a quarter drawn at random)",
    )
    seed: int = Field(0, description="seed of the random draw")
    threshold: Threshold = 0.5
    min_pixels: int = Field(
        16, ge=1, description="pre-filled outlines smaller than this (px) are left out"
    )
    tile: int = Field(256, ge=32, description="window side in pixels")
    batch_size: BatchSize = 8
    bands: Bands = None
    device: Device = "auto"
    precision: Precision = "auto"


class BenchOptions(StageOptions):
    """`quakeslide bench`: which models, at which sizes, for how long, on which device."""

    what: ClassVar[str] = "bench options"
    device: Device = "auto"
    size: int = Field(256, ge=32, description="image side")
    seconds: float = Field(5.0, gt=0, description="minimum timed seconds per measurement")
    models: ModelNames = ["unet", "linknet"]
    infer_batch: int = Field(8, ge=1, description="images per inference step")
    train_batch: int = Field(5, ge=1, description="images per training step (the paper's 5)")
    compile: bool = Field(False, description="also time the fast path torch.compiled")
    emulate_avx2: bool = Field(False, description="limit oneDNN to AVX2, as AVX2 CPUs")
