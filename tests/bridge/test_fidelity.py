"""Fidelity metrics on hand-made sets, exact."""

import numpy as np
import pytest

from bridge.fidelity import exact_topk_set, fidelity, set_metrics, union_spearman


def test_exact_topk_set_with_ties():
    drive = np.array([[0.1, 0.9, 0.5, 0.9], [3.0, 2.0, 1.0, 0.0]])
    assert exact_topk_set(drive, 2).tolist() == [[False, True, False, True], [True, True, False, False]]
    with pytest.raises(ValueError):
        exact_topk_set(drive, 4)


def test_set_metrics_hand_made():
    a = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]], bool)
    b = np.array([[1, 1, 0, 1, 1, 0], [1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]], bool)
    m = set_metrics(a, b)
    assert m["jaccard"].tolist() == pytest.approx([2 / 5, 1.0, 1.0])
    assert m["precision"][:2].tolist() == pytest.approx([2 / 4, 1.0])
    assert m["recall"][:2].tolist() == pytest.approx([2 / 3, 1.0])
    assert np.isnan(m["precision"][2]) and np.isnan(m["recall"][2])
    assert m["effective_k"].tolist() == [4, 2, 0]


def test_union_spearman():
    u = np.array([[3.0, 2.0, 1.0, 0.0]])
    v = np.array([[30.0, 20.0, 10.0, 5.0]])
    assert union_spearman(u, v, np.array([[1, 1, 1, 0]], bool))[0] == pytest.approx(1.0)
    assert union_spearman(u, -v, np.array([[1, 1, 1, 1]], bool))[0] == pytest.approx(-1.0)
    assert np.isnan(union_spearman(u, v, np.array([[1, 0, 0, 0]], bool))[0])


def test_fidelity_aggregate():
    drive = np.array([[0.9, 0.8, 0.1, 0.0], [0.2, 0.9, 0.8, 0.1]])
    topk_act = np.array([[0.8, 0.7, 0.0, 0.0], [0.0, 0.7, 0.6, 0.0]])
    bio = np.array([[5.0, 4.0, 0.0, 0.0], [0.0, 5.0, 0.0, 2.0]])  # row 1: one hit, one miss
    f = fidelity(drive, topk_act, bio, k=2, active_threshold=0.5, topk_pred=np.array([1, 2]),
                 bio_pred=np.array([1, 3]))
    assert f["jaccard_mean"] == pytest.approx((1.0 + 1 / 3) / 2)
    assert f["effective_k_mean"] == 2 and f["effective_k_sd"] == 0
    assert f["precision_mean"] == pytest.approx(0.75) and f["recall_mean"] == pytest.approx(0.75)
    assert f["readout_agreement"] == 0.5
