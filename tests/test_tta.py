import numpy as np
import pytest
import torch

from quakeslide.device import plan_compute
from quakeslide.errors import InputError
from quakeslide.inference.engines import Engine, torch_engine
from quakeslide.inference.tta import TTA_VIEWS, with_tta
from quakeslide.models.checkpoint import NormalizedNet
from quakeslide.options import EvaluateOptions, PredictOptions, PseudoLabelOptions


def counting_engine(model):
    """An Engine running `model` (uint8 batch -> probability), recording each batch shape."""
    calls = []

    def predict(batch):
        calls.append(batch.shape)
        return model(batch)

    return Engine(predict, bands=3), calls


def brightness(batch):
    return batch.astype(np.float32).mean(axis=1) / 255.0


def row_ramp(batch):
    """Ignores the pixels: probability = row / (rows - 1), so only the views' undo moves it."""
    rows, cols = batch.shape[-2:]
    ramp = np.repeat((np.arange(rows, dtype=np.float32) / (rows - 1))[:, None], cols, 1)
    return np.broadcast_to(ramp, (batch.shape[0], rows, cols)).copy()


def random_batch(n=3, height=12, width=12, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 3, height, width), dtype=np.uint8)


def test_the_view_sets():
    assert len(TTA_VIEWS["none"]) == 1
    assert len(TTA_VIEWS["flip"]) == 4 and not any(v.transpose for v in TTA_VIEWS["flip"])
    assert len(set(TTA_VIEWS["d4"])) == 8
    image = np.arange(9).reshape(1, 3, 3)
    results = {v.apply(image).tobytes() for v in TTA_VIEWS["d4"]}
    assert len(results) == 8  # eight different images: the whole dihedral group
    for view in TTA_VIEWS["d4"]:
        np.testing.assert_array_equal(view.undo(view.apply(image)), image)


@pytest.mark.parametrize("name", ["flip", "d4"])
@pytest.mark.parametrize("shape", [(12, 12), (8, 20)])
def test_a_per_pixel_model_comes_back_unchanged(name, shape):
    batch = random_batch(height=shape[0], width=shape[1])
    engine, _ = counting_engine(brightness)
    np.testing.assert_allclose(with_tta(engine, name).predict(batch), brightness(batch), atol=1e-6)


@pytest.mark.parametrize("name", ["flip", "d4"])
def test_each_view_is_undone_before_averaging(name):
    """A row ramp averaged with its up-down mirror is 0.5 everywhere (hand value)."""
    engine, _ = counting_engine(row_ramp)
    out = with_tta(engine, name).predict(random_batch(height=8, width=8))
    np.testing.assert_allclose(out, 0.5, atol=1e-6)


def test_views_are_batched_together():
    engine, calls = counting_engine(brightness)
    with_tta(engine, "d4").predict(random_batch(n=3))
    assert calls == [(24, 3, 12, 12)]  # 3 windows x 8 views in one forward pass
    calls.clear()
    with_tta(engine, "d4").predict(random_batch(n=3, height=8, width=20))
    assert calls == [(12, 3, 8, 20), (12, 3, 20, 8)]  # a transpose changes the shape
    calls.clear()
    with_tta(engine, "flip").predict(random_batch(n=2))
    assert calls == [(8, 3, 12, 12)]


def test_d4_makes_a_cnn_rotation_and_mirror_invariant():
    torch.manual_seed(0)
    net = NormalizedNet("linknet", [0.5] * 3, [0.25] * 3).eval()
    plain = torch_engine(net, plan_compute("cpu", "32-true"))
    tta = with_tta(plain, "d4")
    batch = random_batch(n=2, height=32, width=32)
    rotated = np.ascontiguousarray(np.rot90(batch, 1, axes=(2, 3)))
    out, out_rotated = tta.predict(batch), tta.predict(rotated)
    np.testing.assert_allclose(np.rot90(out, 1, axes=(1, 2)), out_rotated, atol=1e-5)
    # without TTA the random net is not invariant, so the check above can fail
    plain_gap = np.abs(np.rot90(plain.predict(batch), 1, axes=(1, 2)) - plain.predict(rotated))
    assert plain_gap.max() > 1e-3
    assert tta.description["tta"] == "d4"


@pytest.mark.parametrize("options", [PredictOptions, EvaluateOptions, PseudoLabelOptions])
def test_unknown_tta_is_refused_by_every_stage_that_takes_one(options):
    with pytest.raises(InputError, match="tta: input should be 'none', 'flip' or 'd4'"):
        options.resolve(tta="rot", **({"split": "x"} if "split" in options.model_fields else {}))
