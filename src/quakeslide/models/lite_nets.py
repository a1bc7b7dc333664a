"""LinkNet- and U-Net-style decoders on an EfficientNet-Lite encoder (ImageNet-startable).

The encoder's features at strides 2, 4, 8, 16 and 32 are the skips. The LinkNet-style
decoder adds them (the paper's LinkNet decoder blocks); the U-Net-style one concatenates
them and refines with two 3x3 convolutions per step. The ImageNet weights are loaded by the
training stage at the start of a run (`load_imagenet`), never by the constructor: a trained
checkpoint holds every weight.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from quakeslide.models.base import SegmentationNet
from quakeslide.models.efficientnet_lite import EfficientNetLiteEncoder
from quakeslide.models.imagenet_weights import load_imagenet_encoder
from quakeslide.models.linknet import DecoderBlock
from quakeslide.models.unet import DoubleConv

UNET_DECODER_WIDTHS = (128, 64, 48, 32, 16)  # at strides 16, 8, 4, 2, 1


def _init_decoder(modules: list[nn.Module]) -> None:
    for part in modules:
        for module in part.modules():
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)


class LiteSegmenter(SegmentationNet):
    """An EfficientNet-Lite encoder and a decoder; the encoder can start from ImageNet."""

    size_multiple = 32
    fp32_cpu_channels_last = True

    def __init__(self, variant: str, in_channels: int) -> None:
        super().__init__()
        self.encoder = EfficientNetLiteEncoder(variant, in_channels)

    def encoder_modules(self) -> list[nn.Module]:
        return [self.encoder]

    def load_imagenet(self) -> None:
        load_imagenet_encoder(self.encoder, self.encoder.variant)


class LiteLinkNet(LiteSegmenter):
    """LinkNet decoder blocks (1x1, 3x3 transposed, 1x1) added to the encoder's skips."""

    # its training steps on an AMX Xeon (2 cores): 10.6 img/s under bf16 autocast, 13.3 in
    # fp32 NHWC, though its inference is 3x faster under bf16; lite0-unet, with the same
    # encoder and a heavier decoder, trains 1.67x faster under bf16 there
    cpu_training_autocast = False

    def __init__(self, in_channels: int = 3, num_classes: int = 2, variant: str = "lite0"):
        super().__init__(variant, in_channels)
        channels = self.encoder.channels  # strides 2, 4, 8, 16, 32
        self.decoders = nn.ModuleList(
            DecoderBlock(channels[i + 1], channels[i]) for i in reversed(range(4))
        )
        # as the paper's LinkNet ends: a 3x3 conv at half resolution, then a 2x2 transposed
        # conv to full resolution (a 3x3 conv at full resolution would double the MACs)
        self.final = nn.Sequential(
            nn.Conv2d(channels[0], 32, 3, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(32, num_classes, 2, stride=2),
        )
        _init_decoder([self.decoders, self.final])

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        *skips, x = self.encoder(x)
        for decoder in self.decoders:
            x = decoder(x) + skips.pop()
        return self.final(x)


class LiteUNet(LiteSegmenter):
    """U-Net decoder: up-sample x2, concatenate the skip, two 3x3 conv + BN + ReLU."""

    def __init__(self, in_channels: int = 3, num_classes: int = 2, variant: str = "lite0"):
        super().__init__(variant, in_channels)
        skips = (*reversed(self.encoder.channels[:-1]), 0)  # strides 16, 8, 4, 2, then none
        widths_in = (self.encoder.channels[-1], *UNET_DECODER_WIDTHS[:-1])
        self.decoders = nn.ModuleList(
            DoubleConv(cin + skip, cout)
            for cin, skip, cout in zip(widths_in, skips, UNET_DECODER_WIDTHS, strict=True)
        )
        self.head = nn.Conv2d(UNET_DECODER_WIDTHS[-1], num_classes, 1)
        _init_decoder([self.decoders, self.head])

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        *skips, x = self.encoder(x)
        for decoder in self.decoders:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            x = decoder(torch.cat([x, skips.pop()], 1) if skips else x)
        return self.head(x)
