"""Tests for the segmentation models, the registry and the complexity helpers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from quakeslide.models import (
    MODELS,
    LinkNet,
    LiteSegmenter,
    SegmentationNet,
    UNet,
    build_model,
    count_parameters,
    model_names,
)
from quakeslide.models.complexity import PARAMETER_NOTE, count_macs, models_table
from quakeslide.models.folding import fold_batchnorm


@pytest.fixture(scope="module", params=["unet", "linknet", "lite0-linknet", "lite0-unet"])
def model(request: pytest.FixtureRequest) -> SegmentationNet:
    torch.manual_seed(0)
    return build_model(request.param)


@pytest.mark.parametrize("shape", [(2, 3, 64, 64), (2, 3, 70, 45), (1, 3, 33, 97)])
def test_output_shape(model: SegmentationNet, shape: tuple[int, int, int, int]) -> None:
    out = model(torch.randn(shape))
    assert out.shape == (shape[0], 2, shape[2], shape[3])


def test_input_smaller_than_pad(model: SegmentationNet) -> None:
    """Reflect padding is impossible here, so forward falls back to replicate."""
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 5, 7))
    model.train()
    assert out.shape == (1, 2, 5, 7)


def test_unet_parameter_count() -> None:
    assert count_parameters(UNet()) == pytest.approx(31.0e6, rel=0.01)


def test_linknet_parameter_count() -> None:
    assert count_parameters(LinkNet()) == pytest.approx(11.5e6, rel=0.02)


def test_unet_bilinear_variant_matches_paper_count() -> None:
    """Backs PARAMETER_NOTE: bilinear + 3x3 conv up-sampling gives the paper's 34.5 M."""
    unet = UNet()
    for up in unet.ups:
        channels = up.up.in_channels
        up.up = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="bilinear"),
            nn.Conv2d(channels, channels // 2, 3, padding=1),
        )
    assert count_parameters(unet) == pytest.approx(34.5e6, rel=0.002)


def test_count_macs_single_conv() -> None:
    conv = nn.Conv2d(3, 8, 3, padding=1)
    assert count_macs(conv, 10, 12) == 8 * 10 * 12 * 3 * 9
    deconv = nn.ConvTranspose2d(4, 6, 2, stride=2)
    assert count_macs(deconv, 5, 5, in_channels=4) == 4 * 5 * 5 * 6 * 4


def test_count_macs_linknet_much_smaller_than_unet() -> None:
    unet_macs = count_macs(UNet(), 64, 64)
    linknet_macs = count_macs(LinkNet(), 64, 64)
    assert 0 < linknet_macs < unet_macs / 5


def test_count_macs_restores_mode_and_removes_hooks() -> None:
    net = LinkNet()
    count_macs(net, 32, 32)
    assert net.training
    assert all(not m._forward_hooks for m in net.modules())


def test_gradients_flow(model: SegmentationNet) -> None:
    model.zero_grad()
    x = torch.randn(2, 3, 32, 32)
    target = torch.randint(0, 2, (2, 32, 32))
    nn.functional.cross_entropy(model(x), target).backward()
    first_conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    assert first_conv.weight.grad is not None
    assert first_conv.weight.grad.abs().sum() > 0


def test_build_model_unknown_name() -> None:
    with pytest.raises(ValueError, match="unet.*linknet"):
        build_model("segnet")


def test_build_model_passes_kwargs() -> None:
    net = build_model("unet", in_channels=4, num_classes=3, base_width=8)
    assert net(torch.randn(1, 4, 32, 32)).shape == (1, 3, 32, 32)


def test_registry() -> None:
    assert model_names() == ["unet", "linknet", "lite0-linknet", "lite0-unet"]
    assert MODELS["unet"].paper_params_m == 34.5
    assert MODELS["linknet"].paper_params_m == 13.4
    assert [m for m in model_names() if MODELS[m].has_imagenet_weights] == [
        "lite0-linknet",
        "lite0-unet",
    ]
    # the torch-free catalogue says ImageNet weights exist exactly for the nets that load them
    for info in MODELS.values():
        assert info.has_imagenet_weights == issubclass(info.cls, LiteSegmenter), info.name


def test_models_table() -> None:
    rows = models_table(size=64)
    assert [row["architecture"] for row in rows] == model_names()
    for row in rows:
        assert set(row) == {"architecture", "params", "params_m", "paper_params_m", "gmacs"}
        assert isinstance(row["params"], int)
        assert row["gmacs"] > 0
    # the note on parameter counts quotes the counts the table gives
    by_name = {row["architecture"]: row for row in rows}
    assert f"{by_name['unet']['params_m']:.2f} M" in PARAMETER_NOTE
    assert f"{by_name['linknet']['params_m']:.2f} M" in PARAMETER_NOTE


@pytest.mark.parametrize("name", ["unet", "linknet", "lite0-linknet", "lite0-unet"])
def test_folding_batchnorm_keeps_the_outputs(name):
    torch.manual_seed(0)
    net = build_model(name).train()
    with torch.no_grad():  # non-trivial BN statistics, as after training
        for _ in range(2):
            net(torch.rand(2, 3, 64, 64))
    net.eval()
    folded = fold_batchnorm(net)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules())  # the original is kept
    x = torch.rand(2, 3, 64, 96)
    with torch.inference_mode():
        assert torch.allclose(folded(x), net(x), atol=1e-4)
