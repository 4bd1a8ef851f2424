"""The learner interface: learning, weights, state round-trip, bad input."""

import numpy as np
import pytest

import bio
from bio.circuit import DEFAULT_SPIKING_GAIN


def _two_class(digits, n=200):
    x, y = digits
    keep = y < 2
    return x[keep][:n], y[keep][:n]


def test_rate_learns_two_digits_and_keeps_weight_constraints(digits):
    x, y = _two_class(digits)
    c = bio.CerebellarCircuit(64, 200, 2, seed=0, switch_count=200.0, tau_cl_ms=50.0)
    seen = []
    c.fit_task(x[:150], y[:150], epochs=3, on_epoch=seen.append)
    assert seen == [0, 1, 2] and c.epochs_ == 3
    acc = (c.predict(x[150:]) == y[150:]).mean()
    assert acc > 0.9
    w = c.get_weights()
    assert (w["address"] >= 0).all() and (w["value"] >= 0).all()
    np.testing.assert_allclose(np.linalg.norm(w["address"], axis=0), 1.0, rtol=1e-5)


def test_all_ten_digits_above_chance(digits):
    x, y = digits
    c = bio.CerebellarCircuit(64, 300, 10, seed=1, switch_count=300.0, tau_cl_ms=50.0)
    c.fit_task(x[:500], y[:500], epochs=2)
    acc = (c.predict(x[1500:]) == y[1500:]).mean()
    assert acc > 0.5  # chance 0.1


def test_target_rule_keeps_an_earlier_tasks_purkinje_weights(digits):
    """value_rule="target": task 2 {2, 3} leaves the weights onto Purkinje cells 0 and 1 exactly as task 1
    left them (the error rule lowers them at shared cells); task 2 is learned, and Purkinje cells 0 and 1
    still tell 0 from 1."""
    x, y = digits
    first, second = y < 2, (y == 2) | (y == 3)
    kept = {}
    for rule in ("target", "error"):
        c = bio.CerebellarCircuit(64, 200, 4, seed=0, value_rule=rule, lr_address=0.0)
        c.mature()  # the read-out rules alone: young GABA, which excites, would activate every cell at first
        c.fit_task(x[first][:150], y[first][:150], epochs=1)
        after_first = c.get_weights()["value"][:, :2].copy()
        c.fit_task(x[second][:150], y[second][:150], epochs=1)
        kept[rule] = np.array_equal(c.get_weights()["value"][:, :2], after_first)
        if rule == "target":
            assert c.get_weights()["value"].max() <= 1.0
            assert (c.predict(x[second][150:]) == y[second][150:]).mean() > 0.8
            purkinje_01 = c.hidden(x[first][150:]) @ c.get_weights()["value"][:, :2]
            assert (purkinje_01.argmax(axis=1) == y[first][150:]).mean() > 0.9
    assert kept == {"target": True, "error": False}


def test_purkinje_scaling_stops_a_frequent_class_outvoting_a_rare_one(digits):
    """Target rule, 150 presentations of 0 and 15 of 1: summed weights make Purkinje cell 0 win every test
    input (measured: class 1 recall 0.00); scaled by the 2-norm of its weights each cell reads the direction
    of its class (measured: recall 0.86 for 0 and 0.99 for 1). The scaled read-out is h X_v / ||X_v||."""
    x, y = digits
    zeros, ones = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    train = np.concatenate([zeros[:150], ones[:15]])
    recall = {}
    for norm in ("none", "l2"):
        c = bio.CerebellarCircuit(64, 200, 2, seed=0, value_rule="target", lr_address=0.0, purkinje_norm=norm)
        c.mature()  # the read-out alone (see test_target_rule_keeps_an_earlier_tasks_purkinje_weights)
        c.fit_task(x[train], y[train], epochs=1)
        recall[norm] = [(c.predict(x[idx]) == label).mean() for label, idx in ((0, zeros[150:]), (1, ones[100:]))]
    assert recall["none"][1] < 0.1
    assert min(recall["l2"]) > 0.75
    value = c.get_weights()["value"]
    h = c.hidden(x[ones[100:]])
    np.testing.assert_array_equal(c.predict(x[ones[100:]]), np.argmax(h @ (value / np.linalg.norm(value, axis=0)), 1))


def test_sparse_dendrites_stay_on_mask(digits):
    """4 mossy fibers per granule cell: the drive address.x is ~0.14 on average (top cells ~0.3, where
    dense dendrites give ~0.55), so the granule threshold goes down with it; the cells learn and their
    synapses stay on the mask."""
    x, y = _two_class(digits, 100)
    c = bio.CerebellarCircuit(64, 100, 2, seed=0, sparse_dendrites=4, granule_threshold=0.25)
    before = c.get_weights()["address"]
    a = c.fit_task(x, y, epochs=1).get_weights()["address"]
    assert ((a > 0).sum(axis=0) <= 4).all()
    assert (np.abs(a - before).max(axis=0) > 1e-3).sum() >= 5  # the active cells' addresses moved


def test_state_round_trip_continues_identically(digits):
    x, y = _two_class(digits, 120)
    a = bio.CerebellarCircuit(64, 100, 2, seed=0, switch_count=100.0).fit_task(x, y, epochs=1)
    a.golgi_gain, a.golgi_threshold = 25.0, 0.02  # as a calibration leaves them
    state = a.state_dict()
    b = bio.CerebellarCircuit(64, 100, 2, seed=99, switch_count=100.0)
    b.load_state_dict(state)
    assert (b.golgi_gain, b.golgi_threshold) == (25.0, 0.02)
    a.fit_task(x, y, epochs=1)
    b.fit_task(x, y, epochs=1)
    sa, sb = a.state_dict(), b.state_dict()
    for key in ("address", "value", "chloride_mM", "activity_count"):
        np.testing.assert_array_equal(sa[key], sb[key])
    assert sa["epochs"] == sb["epochs"] == 2 and sa["rng_state"] == sb["rng_state"]


def test_set_weights_round_trip():
    c = bio.CerebellarCircuit(4, 6, 2)
    rng = np.random.default_rng(0)
    w = {"address": rng.random((4, 6)).astype(np.float32), "value": rng.random((6, 2)).astype(np.float32)}
    c.set_weights(w)
    got = c.get_weights()
    np.testing.assert_array_equal(got["address"], w["address"])
    np.testing.assert_array_equal(got["value"], w["value"])


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(mode="chaos"), "mode"),
        (dict(n_neurons=0), "n_neurons"),
        (dict(golgi_gain=-1.0), "golgi_gain"),
        (dict(golgi_gain=0.0), "golgi_gain"),  # not silently replaced by the default
        (dict(dt_ms=1.0), "dt_ms"),  # > tau_golgi / 5 for Euler
        (dict(presentation_ms=1.0), "presentation_ms"),  # < 5 steps
        (dict(e_cl_young_mV=-60.0), "e_cl_young"),  # young [Cl]i 14 mM: below the immature 20-40 mM
        (dict(e_cl_mature_mV=-105.0), "e_cl_mature"),  # mature [Cl]i 2.6 mM: below E_K, beyond KCC2
        (dict(codegen_target="cuda"), "codegen_target"),
        (dict(mode="spiking", dt_ms=1.0), "dt_ms"),
        (dict(mode="spiking", codegen_target="cpp_standalone"), "codegen_target"),
        (dict(golgi_model="population"), "golgi_model"),  # rate mode's Golgi is already a rate unit
        (dict(mode="spiking", golgi_model="cloud"), "golgi_model"),
        (dict(batch_size=0), "batch_size"),
        (dict(value_rule="hebb"), "value_rule"),
        (dict(purkinje_norm="l3"), "purkinje_norm"),
        (dict(purkinje_norm="l2"), "purkinje_norm"),  # with the default error rule: weights would grow without end
        (dict(lr_value=2.0), "lr_value"),
        (dict(feedforward_inhibition=-0.5), "feedforward_inhibition"),
        (dict(lr_address=-0.1), "lr_address"),
        (dict(mode="spiking", feedforward_inhibition=1.0), "feedforward_inhibition"),
        (dict(n_workers=0), "n_workers"),
        (dict(active_threshold=0.0), "active_threshold"),  # not silently replaced by the mode's default
        (dict(switch_threshold=-0.1), "switch_threshold"),
    ],
)
def test_constructor_errors_name_the_parameter(kwargs, name):
    base = dict(n_inputs=4, n_neurons=6, n_outputs=2)
    with pytest.raises(ValueError, match=name):
        bio.CerebellarCircuit(**{**base, **kwargs})


def test_active_threshold_defaults_per_mode():
    """Rate: 5 % of the maximum rate; spiking: half a spike in the read window, so that one spike counts
    (the spiking activity is the read-window rate x the 2 ms refractory period)."""
    assert bio.CerebellarCircuit(4, 6, 2).active_threshold == 0.05
    spiking = bio.CerebellarCircuit(4, 6, 2, mode="spiking", read_ms=40.0)
    one_spike = 1 / 40.0 * 2.0  # spikes per ms x refractory ms
    assert 0 < spiking.active_threshold < one_spike and spiking.active_threshold == pytest.approx(one_spike / 2)
    assert bio.CerebellarCircuit(4, 6, 2, active_threshold=0.2).active_threshold == 0.2


def test_default_batch_does_not_depend_on_workers():
    """A learning batch is 100 presentations and a simulation run min(50, batch) copies, whatever the
    worker count (the workers start lazily, on the first simulation, so none start here)."""
    for n_workers in (1, 2):
        c = bio.CerebellarCircuit(4, 6, 2, n_workers=n_workers)
        assert (c.batch_size, c.copies) == (100, 50)
    assert bio.CerebellarCircuit(4, 6, 2, n_workers=2, batch_size=30).copies == 30


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (-np.ones((2, 4), np.float32), "negative"),
        (np.full((2, 4), np.nan, np.float32), "NaN"),
        (np.ones((2, 5), np.float32), "shape"),
        (np.ones(4, np.float32), "shape"),
    ],
)
def test_bad_input_rates(x, match):
    c = bio.CerebellarCircuit(4, 6, 2)
    with pytest.raises(ValueError, match=match):
        c.predict(x)


def test_bad_weights_and_labels():
    c = bio.CerebellarCircuit(4, 6, 2)
    good = c.get_weights()
    with pytest.raises(ValueError, match="negative"):
        c.set_weights({**good, "value": -np.ones((6, 2), np.float32)})
    with pytest.raises(ValueError, match="shape"):
        c.set_weights({**good, "address": np.ones((6, 4), np.float32)})
    with pytest.raises(ValueError, match="address"):
        c.set_weights({"value": good["value"]})
    with pytest.raises(ValueError, match="y must"):
        c.fit_task(np.ones((3, 4), np.float32), np.array([0, 1, 5]), epochs=1)


def test_a_silent_circuit_refuses_to_learn(digits):
    """A granule threshold above every drive address.x leaves no cell active: fit_task says so, naming
    the parameter and the drive, instead of silently learning nothing; a threshold at the drive learns."""
    x, y = _two_class(digits, 40)
    silent = bio.CerebellarCircuit(64, 50, 2, seed=0, granule_threshold=1.5, batch_size=20)
    with pytest.raises(ValueError, match=r"No granule cell .* address\.x .*mean 0\.5\d\d.*'granule_threshold'"):
        silent.fit_task(x, y, epochs=1)
    assert (silent.get_weights()["value"] == 0).all()  # refused before any plasticity
    alive = bio.CerebellarCircuit(64, 50, 2, seed=0, granule_threshold=0.5, batch_size=20)
    assert alive.fit_task(x, y, epochs=1).get_weights()["value"].max() > 0


@pytest.mark.parametrize("mode", ["rate", "spiking"])
def test_worker_count_never_changes_results(digits, mode):
    """n_workers is a speed setting: 1 and 2 worker processes, same settings otherwise, give bit-identical
    learned weights, chloride and read-out activity (spiking: the same Poisson seeds per run). The pool
    starts both workers before it simulates."""
    x, y = digits
    keep = np.isin(y, [0, 1])
    x, y = x[keep][:24], y[keep][:24]
    out = {}
    for n_workers in (1, 2):
        c = bio.CerebellarCircuit(64, 40, 10, mode=mode, seed=3, batch_size=12, copies=4, n_workers=n_workers,
                                  presentation_ms=20.0, read_ms=10.0, granule_threshold=0.4)
        c.fit_task(x, y, epochs=1)
        out[n_workers] = (c.hidden(x), c.get_weights()["address"], c.get_weights()["value"], c.chloride_mM_)
        if n_workers == 2:
            assert len(set(c._loop.pids)) == 2
        c.close()
    assert out[1][0].shape == (24, 40) and out[1][0].any() and out[1][2].any()
    for one, two in zip(out[1], out[2], strict=True):
        np.testing.assert_array_equal(one, two)


def test_workers_refuse_cpp_standalone():
    with pytest.raises(ValueError, match="n_workers"):
        bio.CerebellarCircuit(64, 40, 10, n_workers=2, codegen_target="cpp_standalone")


def test_continual_learning_needs_golgi_inhibition(digits):
    """Three tasks of Split digits ({0, 1}, {2, 3}, {4, 5}), mature circuit, read-out learning alone. With
    Golgi inhibition about 16 of 200 granule cells are active per input and the circuit keeps telling 0 from 1
    (measured 0.99 after task 1, 0.80 after task 3); with the Golgi cells removed (gain ~0) about 80 cells are
    active, the classes share them, and 0 against 1 falls to 0.81 after task 1 and 0.32 after task 3."""
    x, y = digits
    first = (y == 0) | (y == 1)
    retained = {}
    for golgi in ("feedback", "removed"):
        c = bio.CerebellarCircuit(64, 200, 10, seed=0, lr_address=0.0,
                                  **({"golgi_gain": 1e-9} if golgi == "removed" else {}))
        c.mature()
        accuracy = []
        for a, b in ((0, 1), (2, 3), (4, 5)):
            task = (y == a) | (y == b)
            c.fit_task(x[task][:150], y[task][:150], epochs=1)
            accuracy.append((c.predict(x[first][150:]) == y[first][150:]).mean())
        retained[golgi] = accuracy
    assert retained["feedback"][0] > 0.95 and retained["feedback"][2] > 0.7
    assert retained["removed"][0] < 0.9 and retained["removed"][2] < 0.5


def test_spiking_and_rate_defaults_resolve_by_mode():
    """Mode-dependent defaults (bio/spiking.py): depressing granule -> Golgi synapses, every Golgi cell reaching every
    granule cell, 400 ms presentations read over their last 150 ms in spiking mode; linear synapses and App. C.1's
    connection probability 0.9 in rate mode; a given value always wins."""
    spiking = bio.CerebellarCircuit(4, 6, 2, mode="spiking")
    assert (spiking.golgi_depression, spiking.presentation_ms, spiking.read_ms) == (0.05, 400.0, 150.0)
    assert (spiking.mossy_tau_ms, spiking.granule_golgi_nS, spiking.mossy_golgi_nS) == (85.6, 10.0, 0.03)
    assert (spiking.gaba_tau_ms, spiking.p_golgi, spiking.cell_params.name) == (200.0, 1.0, "fore2020-golgi-2ms")
    assert spiking.golgi_gain == DEFAULT_SPIKING_GAIN["lif"]
    assert all(spiking.graph.edges[edge]["mask"].all() for edge in (("golgi", "granule"), ("granule", "golgi")))
    assert bio.CerebellarCircuit(4, 6, 2, mode="spiking", golgi_model="population").golgi_gain == 800.0
    assert bio.CerebellarCircuit(4, 6, 2, mode="spiking", golgi_model="population",
                                 golgi_depression=0.0).golgi_gain == 5000.0
    given = bio.CerebellarCircuit(4, 6, 2, mode="spiking", golgi_depression=0.0, presentation_ms=80.0, read_ms=30.0)
    assert (given.golgi_depression, given.presentation_ms, given.read_ms) == (0.0, 80.0, 30.0)
    assert bio.CerebellarCircuit(4, 6, 2, mode="spiking", presentation_ms=40.0).read_ms == 15.0
    assert bio.CerebellarCircuit(4, 6, 2, mode="spiking", p_golgi=0.9).p_golgi == 0.9
    rate = bio.CerebellarCircuit(4, 6, 2, mode="rate")
    assert (rate.golgi_depression, rate.p_golgi) == (0.0, 0.9)
    assert not bio.CerebellarCircuit(4, 60, 2, mode="rate").graph.edges["golgi", "granule"]["mask"].all()


def test_a_state_is_refused_by_a_circuit_with_other_parameters():
    """A state keeps the parameters its weights were learned with: a circuit built otherwise (e.g. after a default
    changed) refuses it, naming what differs, before changing anything; strict=False loads the weights anyway."""
    saved = bio.CerebellarCircuit(8, 20, 2, mode="spiking", mossy_tau_ms=12.0, seed=0)
    state = saved.state_dict()
    other = bio.CerebellarCircuit(8, 20, 2, mode="spiking", seed=1)
    before = other.address_.copy()
    with pytest.raises(ValueError, match=r"mossy_tau_ms=12\.0 \(this circuit: 85\.6\)"):
        other.load_state_dict(state)
    np.testing.assert_array_equal(other.address_, before)  # refused before any change
    other.load_state_dict(state, strict=False)
    np.testing.assert_array_equal(other.address_, saved.address_)
    # speed settings and what the state restores itself do not count; a state from before the check loads
    same = bio.CerebellarCircuit(8, 20, 2, mode="spiking", mossy_tau_ms=12.0, n_workers=2, golgi_gain=7.0)
    same.load_state_dict(state)
    assert same.golgi_gain == saved.golgi_gain
    with pytest.raises(ValueError, match="mode='spiking'"):
        bio.CerebellarCircuit(8, 20, 2).load_state_dict(state)
    old = {k: v for k, v in state.items() if k != "parameters"}
    other.load_state_dict(old)


def test_parameters_hold_the_resolved_golgi_count_and_exact_cell_constants():
    """A changed default Golgi count, or a cell constant changed beyond display precision, is a parameter change."""
    import dataclasses

    from bio import params

    c = bio.CerebellarCircuit(8, 300, 2, mode="spiking")
    assert c.parameters()["n_golgi"] == 3  # one per 100 granule cells, resolved
    base = params.get_cell_params(params.DEFAULT)
    nudged = dataclasses.replace(base, granule=dataclasses.replace(base.granule, C_m=base.granule.C_m * (1 + 1e-10)))
    other = bio.CerebellarCircuit(8, 300, 2, mode="spiking", cell_params=nudged)
    with pytest.raises(ValueError, match="C_m"):
        other.load_state_dict(c.state_dict())
