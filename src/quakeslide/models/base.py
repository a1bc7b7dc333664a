"""Base class for segmentation networks that accept inputs of any spatial size."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SegmentationNet(nn.Module):
    """A network mapping (N, C, H, W) images to (N, num_classes, H, W) logits.

    Encoder-decoder networks only reproduce the input size when H and W are multiples of
    their total down-sampling factor. ``forward`` pads other sizes up to the next multiple
    and crops the logits back, so callers never have to care.
    """

    size_multiple: int = 1
    # NHWC training steps in fp32 on a CPU: worth it for depthwise-conv encoders (measured
    # 1.34x for lite0-linknet, 2 AVX2 cores), not for the paper's nets (LinkNet 1.02x, U-Net
    # 0.87x), which train in NHWC only on a GPU or under bf16 (`ComputePlan`)
    fp32_cpu_channels_last: bool = False
    # bf16 autocast for training steps where `auto` picks it on a CPU; a model whose steps
    # run slower under it there trains in fp32 instead (`device.plan_training`)
    cpu_training_autocast: bool = True

    def encoder_modules(self) -> list[nn.Module]:
        """The encoder (down-sampling path), for fine-tuning with it frozen; [] if none."""
        return []

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for an input whose H and W are multiples of ``size_multiple``."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # No branch on the size (a zero pad is a no-op), so an ONNX export stays valid for
        # every height and width; replicate padding works for any pad and input size.
        height, width = x.shape[-2:]
        pad_h = -height % self.size_multiple
        pad_w = -width % self.size_multiple
        padded = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        return self.forward_features(padded)[..., :height, :width]
