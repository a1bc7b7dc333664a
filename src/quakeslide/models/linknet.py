"""LinkNet (Chaurasia & Culurciello 2017) with a hand-written ResNet-18 encoder."""

from __future__ import annotations

import torch
from torch import nn

from quakeslide.models.base import SegmentationNet


def _conv_bn_relu(conv: nn.Module, channels: int) -> nn.Sequential:
    return nn.Sequential(conv, nn.BatchNorm2d(channels), nn.ReLU(inplace=True))


class BasicBlock(nn.Module):
    """ResNet basic block; a 1x1 conv + BN projects the shortcut when the shape changes."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.downsample(x))


def _resnet_layer(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        BasicBlock(in_channels, out_channels, stride), BasicBlock(out_channels, out_channels)
    )


class DecoderBlock(nn.Sequential):
    """1x1 conv m -> m/4, 3x3 transposed conv (up-samples when stride 2), 1x1 conv m/4 -> n."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 2) -> None:
        mid = in_channels // 4
        super().__init__(
            _conv_bn_relu(nn.Conv2d(in_channels, mid, 1, bias=False), mid),
            _conv_bn_relu(
                nn.ConvTranspose2d(
                    mid, mid, 3, stride, padding=1, output_padding=stride - 1, bias=False
                ),
                mid,
            ),
            _conv_bn_relu(nn.Conv2d(mid, out_channels, 1, bias=False), out_channels),
        )


class LinkNet(SegmentationNet):
    """LinkNet: ResNet-18 encoder whose stage outputs are added to the decoder outputs."""

    size_multiple = 32

    def __init__(self, in_channels: int = 3, num_classes: int = 2) -> None:
        super().__init__()
        self.initial = nn.Sequential(
            _conv_bn_relu(nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False), 64),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        self.encoder1 = _resnet_layer(64, 64, stride=1)
        self.encoder2 = _resnet_layer(64, 128, stride=2)
        self.encoder3 = _resnet_layer(128, 256, stride=2)
        self.encoder4 = _resnet_layer(256, 512, stride=2)
        self.decoder4 = DecoderBlock(512, 256)
        self.decoder3 = DecoderBlock(256, 128)
        self.decoder2 = DecoderBlock(128, 64)
        self.decoder1 = DecoderBlock(64, 64, stride=1)
        self.final = nn.Sequential(
            _conv_bn_relu(
                nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1, bias=False),
                32,
            ),
            _conv_bn_relu(nn.Conv2d(32, 32, 3, padding=1, bias=False), 32),
            nn.ConvTranspose2d(32, num_classes, 2, stride=2),
        )
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def encoder_modules(self) -> list[nn.Module]:
        return [self.initial, self.encoder1, self.encoder2, self.encoder3, self.encoder4]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.initial(x)
        e1 = self.encoder1(x)
        e2 = self.encoder2(e1)
        e3 = self.encoder3(e2)
        e4 = self.encoder4(e3)
        d4 = self.decoder4(e4) + e3
        d3 = self.decoder3(d4) + e2
        d2 = self.decoder2(d3) + e1
        d1 = self.decoder1(d2)
        return self.final(d1)
