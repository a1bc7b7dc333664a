"""The two measures windows are ranked by: entropy of the probability, and disagreement
between the window's eight mirrored / rotated views and an ensemble's members."""

import numpy as np
import pytest

from quakeslide.inference.engines import Engine
from quakeslide.inference.ensemble import average
from quakeslide.inference.uncertainty import binary_entropy, disagreement, pixel_uncertainty

BATCH = np.random.default_rng(0).integers(0, 256, (2, 3, 16, 16), dtype=np.uint8)


def unsure_everywhere(batch: np.ndarray) -> np.ndarray:
    return np.full((batch.shape[0], *batch.shape[2:]), 0.5, np.float32)


def left_to_right(batch: np.ndarray) -> np.ndarray:
    """A model that reads the window's orientation, not its content: a ramp over columns."""
    ramp = np.linspace(0.01, 0.99, batch.shape[-1], dtype=np.float32)
    return np.broadcast_to(ramp, (batch.shape[0], *batch.shape[2:])).copy()


def test_entropy_is_one_bit_at_one_half_and_none_at_certainty():
    assert binary_entropy(np.array([0.5]))[0] == pytest.approx(1.0)
    assert binary_entropy(np.array([0.0, 1.0])).max() < 1e-4


def test_views_that_agree_on_one_half_are_unsure_but_do_not_disagree():
    engine = Engine(unsure_everywhere, 3)
    assert pixel_uncertainty(engine, "entropy", BATCH) == pytest.approx(1.0)
    assert disagreement(engine, BATCH).max() == pytest.approx(0.0, abs=1e-9)


def test_a_model_that_reads_orientation_disagrees_with_itself():
    engine = Engine(left_to_right, 3)
    disagreement = pixel_uncertainty(engine, "disagreement", BATCH)
    assert disagreement.shape == (2, 16, 16) and disagreement.min() >= 0
    corner, centre = disagreement[0, 0, 0], disagreement[0, 8, 8]
    assert corner > 0.5 > centre  # the views say 0.01 and 0.99 at the corners


def brightness(batch: np.ndarray) -> np.ndarray:
    """A view-invariant model: a pixel's own value only."""
    return 1 / (1 + np.exp(-(batch.astype(np.float32).mean(axis=1) - 128) / 20))


def darkness(batch: np.ndarray) -> np.ndarray:
    return 1 - brightness(batch)


def test_a_view_invariant_model_never_disagrees():
    engine = Engine(brightness, 3)
    assert disagreement(engine, BATCH).max() < 1e-6
    assert pixel_uncertainty(engine, "entropy", BATCH).max() > 0.5


def test_the_members_of_an_ensemble_disagree_where_they_differ():
    """Two view-invariant members, each sure of itself, saying opposite things: each alone
    never disagrees, their ensemble does wherever they are sure, by as much as they are."""
    pair = average([Engine(brightness, 3), Engine(darkness, 3)], ["bright", "dark"])
    same = average([Engine(brightness, 3), Engine(brightness, 3)], ["bright", "bright"])
    bits = disagreement(pair, BATCH)
    assert disagreement(Engine(darkness, 3), BATCH).max() < 1e-6
    assert disagreement(same, BATCH).max() < 1e-5  # float32 rounding
    p = brightness(BATCH)
    assert bits == pytest.approx(1 - binary_entropy(p), abs=1e-5)  # mean 0.5: 1 bit less theirs
    assert bits.max() > 0.9
