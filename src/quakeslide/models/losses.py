"""Segmentation losses for the two-class nets; the paper's, and the default, is plain CE.

A loss name is one term or terms joined by "+" ("ce+dice"): the loss is their sum. Every
term leaves out pixels marked ignore (255). Dice and Lovász score the landslide class.
"""

from __future__ import annotations

import torch
from torch import nn

from quakeslide.catalogue import check_loss_name
from quakeslide.classes import IGNORE, LANDSLIDE


def make_loss(name: str) -> nn.Module:
    """The loss called `name`: (logits (N, 2, H, W), mask (N, H, W)) -> scalar."""
    terms = check_loss_name(name).split("+")
    if terms == ["ce"]:
        return CrossEntropy()
    return SumOfLosses([TERMS[t]() for t in terms])


class CrossEntropy(nn.CrossEntropyLoss):
    """Mean cross-entropy over the labelled pixels (the paper's loss)."""

    def __init__(self) -> None:
        super().__init__(ignore_index=IGNORE)


def _landslide_probability(
    logits: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Landslide probability and truth (float) of the labelled pixels, flattened."""
    valid = mask != IGNORE
    probability = torch.softmax(logits.float(), dim=1)[:, LANDSLIDE]
    return probability[valid], (mask[valid] == LANDSLIDE).float()


class Dice(nn.Module):
    """1 - soft Dice of the landslide class over the whole batch (smoothing 1)."""

    def forward(self, logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        p, t = _landslide_probability(logits, mask)
        return 1.0 - (2.0 * (p * t).sum() + 1.0) / (p.sum() + t.sum() + 1.0)


class Lovasz(nn.Module):
    """Lovász-softmax of the landslide class (Berman, Triki & Blaschko 2018), batch as one.

    The convex surrogate of 1 - IoU: the pixel errors |t - p|, sorted descending, weighted
    by the steps of the Jaccard loss along that order.
    """

    def forward(self, logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        p, t = _landslide_probability(logits, mask)
        if p.numel() == 0:
            return logits.sum() * 0.0
        errors, order = torch.sort((t - p).abs(), descending=True)
        truth = t[order]
        positives = truth.sum()
        intersection = positives - truth.cumsum(0)
        union = positives + (1.0 - truth).cumsum(0)
        jaccard = 1.0 - intersection / union
        steps = torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])
        return torch.dot(errors, steps)


class Focal(nn.Module):
    """Focal loss (Lin et al. 2017), gamma 2: CE down-weighted on well-classified pixels."""

    gamma = 2.0

    def forward(self, logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        valid = mask != IGNORE
        if not valid.any():
            return logits.sum() * 0.0
        log_p = torch.log_softmax(logits.float(), dim=1)
        target = torch.where(valid, mask, 0).unsqueeze(1)
        log_pt = log_p.gather(1, target).squeeze(1)[valid]
        return (-((1.0 - log_pt.exp()) ** self.gamma) * log_pt).mean()


class SumOfLosses(nn.Module):
    """The sum of several terms (an all-ignored batch gives NaN with CE in it, as torch's)."""

    def __init__(self, terms: list[nn.Module]) -> None:
        super().__init__()
        self.terms = nn.ModuleList(terms)

    def forward(self, logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return sum((term(logits, mask) for term in self.terms), logits.sum() * 0.0)


TERMS: dict[str, type[nn.Module]] = {
    "ce": CrossEntropy,
    "dice": Dice,
    "lovasz": Lovasz,
    "focal": Focal,
}
