"""Options of every stage as pydantic models; the paper's values are the defaults."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from quakeslide.models import model_names


class TrainConfig(BaseModel):
    """Training options. Defaults follow Zhang, Zhang & Lv (2024)."""

    model_config = ConfigDict(extra="forbid")

    model: str = "linknet"
    epochs: int = Field(90, ge=1)
    batch_size: int = Field(5, ge=1)
    lr: float = Field(1e-3, gt=0)
    betas: tuple[float, float] = (0.9, 0.999)
    step_size: int = Field(30, ge=1, description="StepLR period in epochs")
    gamma: float = Field(0.1, gt=0)
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    train_split: str | None = None
    val_split: str | None = None
    val_fraction: float = Field(0.2, gt=0, lt=1, description="used when no val split is given")

    @field_validator("model")
    @classmethod
    def known_model(cls, name: str) -> str:
        if name.lower() not in model_names():
            raise ValueError(f"unknown model {name!r}; known models: {', '.join(model_names())}")
        return name.lower()

    def to_yaml(self, path: Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False))
