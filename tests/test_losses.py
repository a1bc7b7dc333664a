"""Each loss against its value worked out by hand on three pixels (one of them ignored)."""

import math

import pytest
import torch
from torch import nn

from quakeslide.catalogue import LOSS_TERMS
from quakeslide.errors import InputError
from quakeslide.models.losses import make_loss

# pixel 0: landslide, logits (0, 1); pixel 1: background, (0, 0.5); pixel 2: ignored
LOGITS = torch.tensor([[[[0.0, 0.0, 3.0]], [[1.0, 0.5, -1.0]]]])
MASK = torch.tensor([[[1, 0, 255]]])


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


A = sigmoid(1.0)  # landslide probability of pixel 0 (truth 1)
B = sigmoid(0.5)  # landslide probability of pixel 1 (truth 0)

BY_HAND = {
    "ce": (-math.log(A) - math.log(1.0 - B)) / 2,
    # 1 - (2 sum p t + 1) / (sum p + sum t + 1)
    "dice": 1.0 - (2.0 * A + 1.0) / (A + B + 1.0 + 1.0),
    # errors |t - p|: pixel 1 (B, t 0) before pixel 0 (1 - A, t 1); Jaccard after each:
    # 1 - (1 - 0) / (1 + 1) = 0.5, then 1 - (1 - 1) / (1 + 1) = 1 -> steps 0.5, 0.5
    "lovasz": 0.5 * B + 0.5 * (1.0 - A),
    # -(1 - p_t)^2 log p_t, p_t = A and 1 - B
    "focal": (-((1.0 - A) ** 2) * math.log(A) - B**2 * math.log(1.0 - B)) / 2,
}


@pytest.mark.parametrize("name", LOSS_TERMS)
def test_each_term_equals_its_value_by_hand(name):
    assert float(make_loss(name)(LOGITS, MASK)) == pytest.approx(BY_HAND[name], rel=1e-6)


def test_ce_is_torchs_cross_entropy_with_ignore():
    logits, mask = torch.randn(2, 2, 5, 5), torch.randint(0, 2, (2, 5, 5))
    mask[0, :2] = 255
    expected = nn.CrossEntropyLoss(ignore_index=255)(logits, mask)
    assert torch.equal(make_loss("ce")(logits, mask), expected)


def test_terms_add_up():
    both = float(make_loss("ce+dice")(LOGITS, MASK))
    assert both == pytest.approx(BY_HAND["ce"] + BY_HAND["dice"], rel=1e-6)


@pytest.mark.parametrize("name", [*LOSS_TERMS, "ce+lovasz"])
def test_ignored_pixels_change_nothing_and_gradients_flow(name):
    other = LOGITS.clone()
    other[0, :, 0, 2] = torch.tensor([-5.0, 7.0])
    loss = make_loss(name)
    assert float(loss(other, MASK)) == pytest.approx(float(loss(LOGITS, MASK)), rel=1e-6)
    logits = LOGITS.clone().requires_grad_()
    loss(logits, MASK).backward()
    assert torch.isfinite(logits.grad).all() and (logits.grad[..., 2] == 0).all()
    assert logits.grad[..., :2].abs().sum() > 0


@pytest.mark.parametrize("name", ["dice", "lovasz", "focal", "dice+focal"])
def test_an_all_ignored_batch_costs_nothing(name):
    logits = torch.randn(1, 2, 2, 2, requires_grad=True)
    value = make_loss(name)(logits, torch.full((1, 2, 2), 255))
    assert value.item() == 0.0
    value.backward()


@pytest.mark.parametrize("name", ["bogus", "", "ce+ce", "ce+", "dice+hinge"])
def test_unknown_or_repeated_terms_are_refused(name):
    with pytest.raises(InputError, match="ce\\+dice"):
        make_loss(name)
