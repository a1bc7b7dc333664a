"""Model complexity: parameter counts and multiply-accumulates, compared with the paper."""

from __future__ import annotations

import textwrap

import torch
from torch import nn

from quakeslide.models import MODELS, count_parameters

PARAMETER_NOTE = (
    "Parameter counts differ from the paper's. U-Net: we build the textbook layout the paper's "
    "text describes (3x3 conv + BN + ReLU pairs, 2x2 transposed-conv up-sampling that halves "
    "the channels), which counts 31.04 M (31.03 M without BatchNorm). Replacing each 2x2 "
    "transposed conv by bilinear up-sampling + a 3x3 conv (in -> in/2) gives 34.52 M, which "
    "matches the paper's 34.5 M, so the authors most likely used that common decoder variant. "
    "LinkNet: the standard LinkNet with a ResNet-18 encoder counts 11.53 M (encoder 11.18 M, "
    "decoder and final block 0.36 M). The paper's 13.4 M is not derivable from its described "
    "layout: keeping ResNet-18's 1000-class fc layer gives 12.05 M, a decoder inner width of "
    "m/2 instead of m/4 gives 12.25 M and of m gives 14.87 M, so it likely reflects a "
    "different decoder width or a different way of counting."
)


def count_macs(model: nn.Module, height: int = 256, width: int = 256, in_channels: int = 3) -> int:
    """Multiply-accumulates of one forward pass on a single (1, C, H, W) image.

    Only convolutions, transposed convolutions and linear layers are counted; normalisation,
    activations, pooling and additions are negligible next to them.
    """
    total = 0

    def conv_hook(module: nn.Conv2d, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        kh, kw = module.kernel_size
        total += out.numel() * module.in_channels // module.groups * kh * kw

    def deconv_hook(
        module: nn.ConvTranspose2d, inputs: tuple[torch.Tensor, ...], out: torch.Tensor
    ) -> None:
        nonlocal total
        kh, kw = module.kernel_size
        total += inputs[0].numel() * module.out_channels // module.groups * kh * kw

    def linear_hook(module: nn.Linear, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        total += out.numel() * module.in_features

    hooks = []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            hooks.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, nn.ConvTranspose2d):
            hooks.append(module.register_forward_hook(deconv_hook))
        elif isinstance(module, nn.Linear):
            hooks.append(module.register_forward_hook(linear_hook))

    was_training = model.training
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, in_channels, height, width, device=device))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return total


def models_table(size: int = 256) -> list[dict[str, object]]:
    """One row per registered model: our parameter count, the paper's, and GMACs at size^2."""
    rows: list[dict[str, object]] = []
    for name, info in MODELS.items():
        model = info.cls()
        params = count_parameters(model)
        rows.append(
            {
                "architecture": name,
                "params": params,
                "params_m": round(params / 1e6, 2),
                "paper_params_m": info.paper_params_m,
                "gmacs": round(count_macs(model, size, size) / 1e9, 2),
            }
        )
    return rows


def models_table_text(size: int = 256) -> str:
    """:func:`models_table` as aligned text, with the note on parameter counts."""
    lines = [f"{'architecture':<14} {'params':>10} {'paper':>8} {f'GMACs@{size}':>12}"]
    for row in models_table(size):
        paper = row["paper_params_m"]
        paper_text = f"{paper:>6.1f} M" if paper is not None else f"{'-':>8}"
        lines.append(
            f"{row['architecture']:<14} {row['params_m']:>8.2f} M {paper_text}"
            f" {row['gmacs']:>12.2f}"
        )
    return "\n".join(lines) + "\n\n" + textwrap.fill(PARAMETER_NOTE, width=100)
