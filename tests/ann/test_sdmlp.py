"""SDMLP behaviour: constraints of Algorithm 1, the GABA counters, inputs, state, learning."""

import numpy as np
import pytest
import torch

from ann import SDMLP, ReLUMLP
from experiments.data import load_dataset


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def two_classes(d, classes=(0, 1)):
    tr, te = np.isin(d.y_train, classes), np.isin(d.y_test, classes)
    return d.x_train[tr], d.y_train[tr], d.x_test[te], d.y_test[te]


def test_weights_nonnegative_and_unit_norm_after_training(digits):
    m = SDMLP(64, 200, 10, k=5, anneal_epochs=2, lr=0.5, batch_size=16, device="cpu")
    m.fit_task(digits.x_train[:300], digits.y_train[:300], epochs=3)
    w = m.get_weights()
    assert (w["address"] >= 0).all() and (w["value"] >= 0).all()
    norms = np.linalg.norm(w["address"], axis=0)
    assert np.allclose(norms[norms > 0], 1.0, atol=1e-5)
    assert m.k == 5


def test_all_zero_address_never_nan():
    m = SDMLP(4, 8, 2, k=2, device="cpu", lr=0.1)
    w = m.get_weights()
    w["address"][:, 3] = 0.0
    m.set_weights(w)
    x = np.abs(np.random.default_rng(0).normal(size=(16, 4))).astype(np.float32)
    m.fit_task(x, np.arange(16) % 2, epochs=1)
    assert np.isfinite(m.get_weights()["address"]).all()
    assert m.zero_address_neurons == 1


def test_negative_inputs_refused_unless_rectified():
    x = np.array([[1.0, -0.5, 0.2, 0.0]] * 4, dtype=np.float32)
    y = np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="rectify"):
        SDMLP(4, 8, 2, k=2, device="cpu").fit_task(x, y, epochs=1)
    SDMLP(4, 8, 2, k=2, device="cpu", rectify_inputs=True).fit_task(x, y, epochs=1)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_inputs_refused(bad):
    x = np.ones((2, 4), dtype=np.float32)
    x[0, 0] = bad
    with pytest.raises(ValueError, match="NaN or inf"):
        SDMLP(4, 8, 2, k=2, device="cpu").predict(x)


def test_labels_out_of_range_refused():
    with pytest.raises(ValueError, match="labels"):
        SDMLP(4, 8, 2, k=2, device="cpu").fit_task(np.ones((2, 4), np.float32), np.array([0, 2]), epochs=1)


@pytest.mark.parametrize("k", [0, 8, 9])
def test_k_out_of_range_refused(k):
    with pytest.raises(ValueError, match="'k'"):
        SDMLP(4, 8, 2, k=k)


def test_gaba_counters_advance_only_in_training(digits):
    m = SDMLP(64, 100, 10, k=5, gaba_s=1000, device="cpu", batch_size=50)
    assert m.net.counts.sum() == 0
    m.predict(digits.x_test)  # evaluation must not advance C_i (the reference code's bug)
    m.hidden(digits.x_test)
    assert m.net.counts.sum() == 0
    m.fit_task(digits.x_train[:100], digits.y_train[:100], epochs=1)
    # lambda = -1 at first: inhibition adds I, every neuron with positive drive is active
    assert m.net.counts.sum() > 100 * 5
    assert "counts" in dict(m.net.named_buffers())


def test_anneal_schedule_reaches_target(digits):
    m = SDMLP(64, 100, 10, k=5, anneal_epochs=4, device="cpu")
    ks = []
    m.fit_task(digits.x_train[:64], digits.y_train[:64], epochs=6, on_epoch=lambda e: ks.append(m.k))
    assert ks == [76, 52, 28, 5, 5, 5]  # floor(100 - E * 95 / 4), E = epochs done


def test_hidden_has_at_most_k_active(digits):
    m = SDMLP(64, 100, 10, k=7, device="cpu")
    h = m.hidden(digits.x_test)
    assert h.shape == (len(digits.x_test), 100)
    assert ((h > 0).sum(axis=1) <= 7).all()


def test_state_dict_round_trip_continues_identically(digits):
    x, y, *_ = two_classes(digits)
    a = SDMLP(64, 100, 10, k=5, anneal_epochs=2, device="cpu", seed=3)
    a.fit_task(x, y, epochs=2)
    b = SDMLP(64, 100, 10, k=5, anneal_epochs=2, device="cpu", seed=99)
    b.load_state_dict(a.state_dict())
    a.fit_task(x, y, epochs=2)
    b.fit_task(x, y, epochs=2)
    for name in ("address", "value"):
        assert np.array_equal(a.get_weights()[name], b.get_weights()[name])


@pytest.mark.parametrize(("cls", "kwargs"), [(SDMLP, {"k": 10, "anneal_epochs": 5}), (ReLUMLP, {})])
def test_learns_a_single_digits_task(digits, cls, kwargs):
    x, y, xt, yt = two_classes(digits, (3, 8))
    m = cls(64, 300, 10, lr=0.2, batch_size=32, device="cpu", seed=0, **kwargs)
    m.fit_task(x, y, epochs=15)
    assert np.mean(m.predict(xt) == yt) > 0.9


def test_same_seed_same_result(digits):
    runs = []
    for _ in range(2):
        m = SDMLP(64, 100, 10, k=5, device="cpu", seed=7)
        m.fit_task(digits.x_train[:200], digits.y_train[:200], epochs=2)
        runs.append(m.get_weights()["address"])
    assert np.array_equal(*runs)


def test_dropout_follows_the_seed_and_resumes_bit_for_bit(digits):
    """The Dropout baseline's masks come from the learner's own generator: the global torch seed does
    not change the result, the learner's seed does, and a round trip through state_dict mid-training
    continues exactly as an uninterrupted run."""
    x, y, *_ = two_classes(digits)

    def dropout_mlp(seed):
        return ReLUMLP(64, 50, 10, dropout=0.5, device="cpu", seed=seed)

    runs = {}
    for seed, global_seed in ((0, 1), (0, 2), (1, 1)):
        torch.manual_seed(global_seed)
        runs[seed, global_seed] = dropout_mlp(seed).fit_task(x, y, epochs=2).get_weights()["address"]
    assert np.array_equal(runs[0, 1], runs[0, 2])
    assert not np.allclose(runs[0, 1], runs[1, 1])
    a = dropout_mlp(0).fit_task(x, y, epochs=1)
    b = dropout_mlp(5)
    b.load_state_dict(a.state_dict())
    torch.manual_seed(123)
    assert np.array_equal(a.fit_task(x, y, epochs=1).get_weights()["address"],
                          b.fit_task(x, y, epochs=1).get_weights()["address"])


def test_dropout_zeroes_about_p_of_the_hidden_units_and_rescales_the_rest():
    net = ReLUMLP(4, 2000, 2, dropout=0.3, device="cpu", seed=0).net
    with torch.no_grad():
        net.hidden_layer.weight.zero_()
        net.hidden_layer.bias.fill_(1.0)  # relu(pre) = 1 for every unit
    x, ones = torch.zeros(1, 50, 4), torch.ones(1, 50, 2000)
    train_sites, eval_sites = [], []
    _, hidden = net(x, train_sites)
    assert torch.equal(hidden, ones)  # hidden is returned before dropout
    dropped = train_sites[1].input  # what the output layer sees
    values = dropped.unique()
    assert len(values) == 2 and values[0] == 0 and values[1].item() == pytest.approx(1 / 0.7)
    assert (dropped == 0).float().mean().item() == pytest.approx(0.3, abs=0.01)
    net.eval()
    net(x, eval_sites)
    assert torch.equal(eval_sites[1].input, ones)  # no dropout at evaluation


def test_cuda_request_without_gpu_is_clear():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="CUDA"):
        SDMLP(4, 8, 2, k=2, device="cuda")
