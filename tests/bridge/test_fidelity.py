"""Fidelity metrics on hand-made sets, exact."""

import numpy as np
import pytest

from bridge.fidelity import exact_topk_set, fidelity, mean_following_ceiling, set_metrics, union_spearman


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


def test_mean_following_ceiling_by_hand():
    """k = 1. Means 1, 2, 3 with Top-1 boundaries 2, 4, 4: the least-squares line is 4/3 + mean, thresholds 7/3,
    10/3, 13/3. Rows one and two keep their top cell alone (Jaccard 1); row three's top drive 4.2 falls below 13/3,
    so no cell is active (Jaccard 0): 2/3."""
    drive = np.array([[3.0, 1.0, 0.0, 0.0], [5.0, 3.0, 0.0, 0.0], [4.2, 3.8, 2.0, 2.0]])
    assert mean_following_ceiling(drive, 1) == pytest.approx(2 / 3)


def test_mean_following_ceiling_is_exact_when_inputs_differ_only_in_scale():
    """Rows that are one drive profile scaled (inputs differing only in their mass) have boundaries proportional to
    their means: a mean-following threshold keeps exactly the Top-K set; shuffling one row's profile breaks it."""
    rng = np.random.default_rng(0)
    profile = rng.random(200)
    drive = np.outer(rng.uniform(0.5, 3.0, 20), profile)
    assert mean_following_ceiling(drive, 10) == 1.0
    drive[:10] = np.outer(rng.uniform(0.5, 3.0, 10), profile ** 4)  # half the rows: another shape, same cells on top
    assert mean_following_ceiling(drive, 10) < 0.9
    with pytest.raises(ValueError, match="inputs >= 3"):
        mean_following_ceiling(drive[:2], 10)
