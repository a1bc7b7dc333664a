"""Training options as a pydantic model; the paper's values are the defaults."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from quakeslide.catalogue import (
    check_loss_name,
    check_model_name,
    has_imagenet_weights,
    model_names,
)
from quakeslide.options import Precision, StageOptions, normalization_field

DatasetNormalization = normalization_field("dataset", "the dataset's", "with init: ")


class TrainConfig(StageOptions):
    """Training options. Defaults follow Zhang, Zhang & Lv (2024)."""

    model_config = ConfigDict(extra="forbid", frozen=False)
    what: ClassVar[str] = "training config"

    model: str = Field(
        "linknet",
        description="linknet or unet, the paper's; lite0-linknet or lite0-unet, an"
        " EfficientNet-Lite0 encoder that starts from ImageNet",
    )
    encoder_weights: Literal["imagenet", "none"] | None = Field(
        None,
        description="the encoder's start: imagenet or none (random); unset: imagenet where"
        " the model has such weights (lite0-*), none for the paper's networks",
    )
    epochs: int = Field(90, ge=1, description="training epochs")
    batch_size: int = Field(5, ge=1, description="tiles per training step")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")
    betas: tuple[float, float] = (0.9, 0.999)
    step_size: int = Field(30, ge=1, description="StepLR period in epochs")
    gamma: float = Field(0.1, gt=0)
    loss: str = Field(
        "ce", description="ce (the paper's), dice, lovasz, focal; terms joined by +, e.g. ce+dice"
    )
    optimizer: Literal["adam", "adamw"] = Field("adam", description="adam or adamw")
    weight_decay: float = Field(0.0, ge=0, description="Adam L2 / AdamW decoupled weight decay")
    schedule: Literal["step", "cosine", "onecycle"] = Field(
        "step", description="step (StepLR), cosine or onecycle"
    )
    warmup_epochs: int = Field(0, ge=0, description="epochs of linear warm-up")
    ema: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="validate and save an exponential moving average of the weights with"
        " this decay per step, e.g. 0.998; 0: the weights as trained",
    )
    augment: int = Field(5, ge=1, description="each tile 1x as is + (N-1)x augmented per epoch")
    first_copy: Literal["as-is", "dihedral", "jitter"] = Field(
        "as-is",
        description="as-is (the paper's), dihedral: each epoch's first copy of a tile in a"
        " random one of its 8 orientations (rotations by 90 degrees, flips), or jitter:"
        " dihedral plus random gain, brightness, contrast, gamma and saturation",
    )
    crop: int | None = Field(None, ge=16, description="train on random crops of this side")
    max_tiles: int | None = Field(None, ge=1, description="use at most this many train tiles")
    init: str | None = Field(None, description="fine-tune: start from this checkpoint's weights")
    freeze: Literal["none", "encoder", "batchnorm"] = Field(
        "none",
        description="with init: encoder (train the decoder only), batchnorm (every batch norm"
        " kept as the parent's) or none",
    )
    encoder_lr_scale: float = Field(
        1.0,
        gt=0,
        description="the encoder's learning rate as a fraction of lr, e.g. 0.1 with init to"
        " keep more of the parent's features",
    )
    normalization: DatasetNormalization = "checkpoint"
    seed: int = Field(0, description="seed of weights, augmentation and tile order")
    accelerator: Literal["auto", "cpu", "cuda", "gpu"] = Field(
        "auto", description="auto, cpu, cuda/gpu"
    )
    devices: int = Field(1, ge=1, description="processes per node (DDP when > 1)")
    num_nodes: int = Field(1, ge=1, description="machines (DDP)")
    precision: Precision = "auto"
    num_workers: int = Field(0, ge=0, description="data loader worker processes")
    train_split: str | None = Field(None, description="e.g. train (reads train.txt)")
    val_split: str | None = Field(None, description="e.g. val (reads val.txt)")
    val_fraction: float = Field(0.2, gt=0, lt=1, description="used when no val split is given")

    @field_validator("model")
    @classmethod
    def known_model(cls, name: str) -> str:
        return check_model_name(name)

    @field_validator("loss")
    @classmethod
    def known_loss(cls, name: str) -> str:
        return check_loss_name(name)

    @model_validator(mode="after")
    def warmup_within_epochs(self) -> TrainConfig:
        if self.warmup_epochs >= self.epochs:
            raise ValueError(f"warmup_epochs {self.warmup_epochs} must be below epochs")
        return self

    @model_validator(mode="after")
    def encoder_weights_exist(self) -> TrainConfig:
        if self.init is not None:
            if self.encoder_weights == "imagenet":
                raise ValueError(
                    "encoder_weights imagenet with init: the parent's weights are the start;"
                    " leave encoder_weights out"
                )
            return self
        if self.encoder_weights == "imagenet" and not has_imagenet_weights(self.model):
            with_weights = ", ".join(m for m in model_names() if has_imagenet_weights(m))
            raise ValueError(
                f"encoder_weights imagenet: no ImageNet weights exist for {self.model}"
                f" (models with them: {with_weights})"
            )
        return self

    @property
    def starts_from_imagenet(self) -> bool:
        """A new run (no init) whose encoder starts from the ImageNet weights."""
        if self.init is not None:
            return False
        if self.encoder_weights is None:
            return has_imagenet_weights(self.model)
        return self.encoder_weights == "imagenet"

    @model_validator(mode="after")
    def freeze_needs_init(self) -> TrainConfig:
        if self.freeze != "none" and self.init is None:
            raise ValueError(f"freeze {self.freeze} needs init (trained weights to keep)")
        return self

    @property
    def device(self) -> str:
        return "cuda" if self.accelerator == "gpu" else self.accelerator
