"""LayoutKeepingAdam: torch's fused Adam update, without cloning channels_last weights."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from quakeslide.models import build_model
from quakeslide.training.optimizer import make_adam


def _channels_last_linknet() -> nn.Module:
    torch.manual_seed(0)
    return build_model("linknet").train().to(memory_format=torch.channels_last)


def _train(net: nn.Module, optimizer: torch.optim.Optimizer, steps: int) -> None:
    seeded = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 64, 64, generator=seeded).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 2, (2, 64, 64), generator=seeded)
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(net(x), y).backward()
        optimizer.step()


def _clones_inside_adam(optimizer_factory) -> int:
    net = _channels_last_linknet()
    optimizer = optimizer_factory(net.parameters())
    _train(net, optimizer, 1)  # moments created
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        _train(net, optimizer, 1)
    return sum(
        event.name == "aten::clone" and "aten::_fused_adam_" in _ancestors(event)
        for event in prof.events()
    )


def _ancestors(event) -> list[str]:
    names, parent = [], event.cpu_parent
    while parent is not None:
        names.append(parent.name)
        parent = parent.cpu_parent
    return names


def test_same_update_as_torch_fused_adam_and_layout_kept():
    reference, ours = _channels_last_linknet(), _channels_last_linknet()
    _train(reference, torch.optim.Adam(reference.parameters(), lr=1e-3, fused=True), 3)
    optimizer = make_adam(ours.parameters(), 1e-3, (0.9, 0.999))
    _train(ours, optimizer, 3)
    for expected, got in zip(reference.parameters(), ours.parameters(), strict=True):
        assert torch.equal(expected, got)  # the same elementwise kernel, bit for bit
    weights = [p for p in ours.parameters() if p.dim() == 4]
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)
    moments = [s["exp_avg"] for s in optimizer.state_dict()["state"].values()]
    assert [m.shape for m in moments] == [p.shape for p in ours.parameters()]


@pytest.mark.parametrize("kind", ["torch", "ours"])
def test_no_weight_is_cloned_in_the_update(kind):
    def factory(params):
        if kind == "torch":
            return torch.optim.Adam(params, lr=1e-3, fused=True)
        return make_adam(params, 1e-3, (0.9, 0.999))

    clones = _clones_inside_adam(factory)
    assert clones > 0 if kind == "torch" else clones == 0  # torch's clones are what we avoid


def test_a_gradient_in_another_layout_is_paired_right():
    """channels_last weight, NCHW gradient: torch's fused CPU Adam gets this wrong."""
    start = torch.randn(4, 3, 3, 3).contiguous(memory_format=torch.channels_last)
    grad = torch.randn(4, 3, 3, 3)  # contiguous: not the weight's layout
    ours, reference = nn.Parameter(start.clone()), nn.Parameter(start.clone())
    ours.grad, reference.grad = grad.clone(), grad.clone()
    make_adam([ours], 0.1, (0.9, 0.999)).step()
    torch.optim.Adam([reference], lr=0.1, foreach=True).step()  # unfused: pairs right
    assert torch.allclose(ours, reference, atol=1e-6)
