"""What the result files hold: a typed record per JSON file its writer and every reader use,
beside `folders.py`, which names the files. A broken file is an `InputError` naming it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from typing_extensions import Self

from quakeslide.errors import InputError
from quakeslide.options import problems


def read_json_object(path: Path) -> dict:
    """A result file's JSON object; unreadable or not an object: an InputError naming it."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: not a readable result file ({err})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a result file (a JSON object was expected)")
    return data


class Record(BaseModel):
    """A result file's contents; keys a record does not name are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def read(cls, path: Path) -> Self:
        try:
            return cls(**read_json_object(path))
        except ValidationError as err:
            raise InputError(
                f"{path}: broken, or not written by quakeslide ({problems(err)})"
            ) from None

    def to_json(self) -> str:
        """The file's text; optional entries the writer did not set stay absent."""
        return json.dumps(self.model_dump(mode="json", exclude_unset=True), indent=2)


class PredictionSummary(Record):
    """SCENE_summary.json: the scene's landslide inventory and how it was mapped."""

    scene: str
    count: int
    area_unit: Literal["m2", "px"]  # m2 where the pixel size is known
    total_area_px: float
    total_area_m2: float | None = None
    largest_area: float  # in area_unit
    area_classes: dict[str, list[float | None]]  # [low, high) in area_unit, None: unbounded
    area_histogram: dict[str, int]
    threshold: float
    # the engine that mapped it, as it describes itself (inference/engines.py, and the
    # wrappers: TTA, scene normalisation, ensembles)
    engine: str | None = None
    device: str | None = None
    precision: str | None = None
    tta: str | None = None
    normalization: dict | None = None  # by: scene, with the scene's mean / std
    parent: dict | None = None  # a fine-tuned model's parent checkpoint
    ensemble: list[str] | None = None  # the members' checkpoints

    @property
    def total_area(self) -> float:
        """In `area_unit`."""
        return self.total_area_m2 if self.area_unit == "m2" else self.total_area_px


class ResultRecord(dict):
    """An untyped result file's JSON whose missing keys (at any depth) name the file in one
    line (study and cv summaries, metrics.json)."""

    def __init__(self, data: dict, path: Path) -> None:
        super().__init__(
            {k: ResultRecord(v, path) if isinstance(v, dict) else v for k, v in data.items()}
        )
        self.path = path

    def __missing__(self, key: str) -> object:
        raise InputError(f"{self.path}: has no {key!r} (broken, or not written by quakeslide)")


def read_result_json(path: Path) -> ResultRecord:
    """A quakeslide result file; a broken one is an InputError naming it."""
    return ResultRecord(read_json_object(path), Path(path))
