"""Fidelity metrics on hand-made sets, exact."""

import numpy as np
import pytest

from bridge.fidelity import (
    exact_topk_set,
    fidelity,
    k_drive_pearson,
    mean_following_ceiling,
    own_count_jaccard,
    set_metrics,
    union_spearman,
)


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


def test_own_count_jaccard_by_hand():
    """Row one keeps its top three cells (the Top-3 set, Jaccard 1 at its own count); row two keeps cells ranked 1 and
    3 (Top-2 is ranks 1 and 2: Jaccard 1/3); row three is silent (NaN); row four keeps every cell (its own Top-4)."""
    drive = np.array([[0.9, 0.8, 0.7, 0.1], [0.9, 0.8, 0.7, 0.1], [0.9, 0.8, 0.7, 0.1], [0.9, 0.8, 0.7, 0.1]])
    bio = np.array([[1, 1, 1, 0], [1, 0, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1]], bool)
    got = own_count_jaccard(drive, bio)
    assert got[[0, 1, 3]].tolist() == pytest.approx([1.0, 1 / 3, 1.0])
    assert np.isnan(got[2])
    with pytest.raises(ValueError, match="differ in shape"):
        own_count_jaccard(drive, bio[:, :3])


def test_k_drive_pearson_against_the_formula():
    """Pearson's r from its definition (centred cross-product over the norms); a k that does not vary gives NaN."""
    rng = np.random.default_rng(1)
    drive = rng.random((30, 50))
    k = 3 + 10 * drive.mean(axis=1) + rng.normal(0, 0.1, 30)
    a, b = k - k.mean(), drive.mean(axis=1) - drive.mean(axis=1).mean()
    assert k_drive_pearson(k, drive) == pytest.approx(a @ b / np.sqrt((a @ a) * (b @ b)), rel=1e-12)
    assert k_drive_pearson(-k, drive) < -0.5
    assert np.isnan(k_drive_pearson(np.full(30, 10.0), drive))


def test_fidelity_splits_the_shortfall_into_picking_and_counting():
    """A circuit that keeps the top cells but one more of them the larger the input's mean drive: perfect picking
    (Jaccard 1 at its own count), a Top-K Jaccard below 1 and k correlated with the mean drive."""
    rng = np.random.default_rng(2)
    drive = rng.random((20, 100)) + np.linspace(0, 1, 20)[:, None]
    order = np.argsort(-drive, axis=1)
    bio = np.zeros_like(drive)
    for i in range(20):
        bio[i, order[i, :5 + i // 4]] = 1.0
    f = fidelity(drive, bio, bio, k=5, active_threshold=0.5, topk_pred=np.zeros(20), bio_pred=np.zeros(20))
    assert f["own_count_jaccard_mean"] == 1.0
    assert f["jaccard_mean"] < 0.8
    assert f["k_drive_pearson"] > 0.9
