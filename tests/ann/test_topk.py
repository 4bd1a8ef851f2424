"""Eq. 4 and Eq. 12 against naive loops and hand-computed values."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ann import gaba_lambda, k_schedule, topk


def naive_subtract(row, k):
    positive = [max(a, 0.0) for a in row]
    ranked = sorted(positive, reverse=True)
    level = ranked[k] if k < len(row) else 0.0  # the (k+1)-th largest
    return [max(a - level, 0.0) for a in row]


def naive_mask(row, k):
    positive = [max(a, 0.0) for a in row]
    order = sorted(range(len(row)), key=lambda i: (-positive[i], i))[:k]  # ties broken by index
    return [positive[i] if i in order else 0.0 for i in range(len(row))]


ROWS = [
    [3.0, 1.0, 2.0, 0.5],
    [1.0, 1.0, 1.0, 0.0],  # ties at the (k+1)-th value
    [2.0, 2.0, 1.0, 1.0, 1.0],
    [-1.0, -2.0, 0.5, 0.0],  # negatives
    [0.0, 0.0, 0.0, 0.0],
]


@pytest.mark.parametrize("row", ROWS)
@pytest.mark.parametrize("k", [1, 2, 3])
def test_subtract_matches_naive_loop(row, k):
    got = topk(torch.tensor([row]), k, "subtract")[0].tolist()
    assert got == pytest.approx(naive_subtract(row, k))


@pytest.mark.parametrize("row", ROWS)
@pytest.mark.parametrize("k", [1, 2, 3])
def test_mask_matches_naive_loop_on_values(row, k):
    got = topk(torch.tensor([row]), k, "mask")[0]
    want = torch.tensor(naive_mask(row, k))
    # Which tied neuron survives is implementation-defined; the multiset of kept values is not.
    assert sorted(got.tolist()) == pytest.approx(sorted(want.tolist()))


def test_hand_computed_subtract():
    # (k+1)-th largest of [3, 1, 2, 0.5] with k=2 is 1 -> [2, 0, 1, 0]
    assert topk(torch.tensor([[3.0, 1.0, 2.0, 0.5]]), 2).tolist() == [[2.0, 0.0, 1.0, 0.0]]


def test_k_at_least_n_means_no_inhibition():
    x = torch.tensor([[3.0, -1.0, 2.0]])
    assert topk(x, 3).tolist() == [[3.0, 0.0, 2.0]]


def test_gaba_lambda_scales_inhibition():
    x = torch.tensor([[3.0, 1.0, 2.0, 0.5]])  # I = 1 for k = 2
    lam = torch.tensor([1.0, -1.0, 0.0, 0.5])
    assert topk(x, 2, gaba=lam).tolist() == [[2.0, 2.0, 2.0, 0.0]]


@settings(max_examples=60, deadline=None)
@given(arrays(np.float32, (3, 12), elements=st.floats(0.25, 10, width=32), unique=True),
       st.integers(1, 11))
def test_exactly_k_nonzeros_without_ties(x, k):
    for mode in ("subtract", "mask"):
        out = topk(torch.from_numpy(x), k, mode)
        assert ((out > 0).sum(dim=1) == k).all()


def test_gradient_flows_only_through_survivors():
    a = torch.tensor([[3.0, 1.0, 2.0, 0.5]], requires_grad=True)
    topk(a, 2).sum().backward()
    assert a.grad.tolist() == [[1.0, 0.0, 1.0, 0.0]]  # I is detached


def test_bad_arguments():
    with pytest.raises(ValueError, match="'k'"):
        topk(torch.ones(1, 3), 0)
    with pytest.raises(ValueError, match="mode"):
        topk(torch.ones(1, 3), 1, "median")


@pytest.mark.parametrize(("epoch", "want"), [(0, 1000), (1, 901), (5, 505), (9, 109), (10, 10), (50, 10)])
def test_k_schedule_hand_values(epoch, want):
    # floor(1000 - E (1000 - 10) / 10)
    assert k_schedule(epoch, 1000, 10, 10) == want


def test_k_schedule_off():
    assert k_schedule(0, 1000, 10, 0) == 10


def test_gaba_lambda_hand_values():
    counts = torch.tensor([0.0, 25.0, 50.0, 75.0, 100.0, 1e6])
    assert gaba_lambda(counts, 100).tolist() == pytest.approx([-1.0, -0.5, 0.0, 0.5, 1.0, 1.0])
    with pytest.raises(ValueError):
        gaba_lambda(counts, 0)
