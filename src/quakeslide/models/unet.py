"""U-Net (Ronneberger, Fischer & Brox 2015) with 'same' padding."""

from __future__ import annotations

import torch
from torch import nn

from quakeslide.models.base import SegmentationNet


class DoubleConv(nn.Sequential):
    """Two 3x3 convolutions, each followed by optional BatchNorm and ReLU."""

    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool = True) -> None:
        layers: list[nn.Module] = []
        for channels_in in (in_channels, out_channels):
            layers.append(nn.Conv2d(channels_in, out_channels, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class Up(nn.Module):
    """2x2 transposed convolution halving the channels, skip concatenation, DoubleConv."""

    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool = True) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, 2, stride=2)
        self.conv = DoubleConv(in_channels // 2 + out_channels, out_channels, batch_norm)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([skip, self.up(x)], dim=1))


class UNet(SegmentationNet):
    """Textbook U-Net: widths w, 2w, 4w, 8w, 16w with four 2x down/up-sampling steps."""

    size_multiple = 16

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 2,
        base_width: int = 64,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        widths = [base_width * 2**i for i in range(5)]
        self.inc = DoubleConv(in_channels, widths[0], batch_norm)
        self.downs = nn.ModuleList(
            DoubleConv(widths[i], widths[i + 1], batch_norm) for i in range(4)
        )
        self.pool = nn.MaxPool2d(2, stride=2)
        self.ups = nn.ModuleList(
            Up(widths[i + 1], widths[i], batch_norm) for i in reversed(range(4))
        )
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def encoder_modules(self) -> list[nn.Module]:
        return [self.inc, self.downs]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(self.pool(skips[-1])))
        x = skips.pop()
        for up in self.ups:
            x = up(x, skips.pop())
        return self.head(x)
