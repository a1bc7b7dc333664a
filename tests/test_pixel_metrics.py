import numpy as np
import pytest

from quakeslide.evaluation.pixel import Confusion


def test_counts_and_metrics_by_hand():
    truth = np.array([[1, 1, 0, 0], [1, 255, 0, 0]], dtype=np.uint8)
    pred = np.array([[1, 0, 1, 0], [1, 1, 0, 0]], dtype=bool)
    c = Confusion.from_arrays(pred, truth)
    # pixel (1,1) is ignore; tp: (0,0),(1,0); fn: (0,1); fp: (0,2); tn: (0,3),(1,2),(1,3)
    assert c.counts() == (2, 1, 1, 3)
    assert c.precision == pytest.approx(2 / 3)
    assert c.recall == pytest.approx(2 / 3)
    assert c.f1 == pytest.approx(2 / 3)
    assert c.iou == pytest.approx(2 / 4)
    assert c.accuracy == pytest.approx(5 / 7)


def test_sum_of_confusions_is_micro_average():
    a = Confusion(tp=1, fp=0, fn=1, tn=2)
    b = Confusion(tp=3, fp=2, fn=0, tn=5)
    total = a + b
    assert total.counts() == (4, 2, 1, 7)
    assert total.f1 == pytest.approx(8 / 11)


def test_empty_prediction_and_truth_score_zero_not_nan():
    c = Confusion.from_arrays(np.zeros((3, 3), bool), np.zeros((3, 3), np.uint8))
    assert (c.precision, c.recall, c.f1, c.iou) == (0.0, 0.0, 0.0, 0.0)
    assert c.accuracy == 1.0
