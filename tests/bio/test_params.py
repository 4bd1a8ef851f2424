"""Literature parameter sets (bio/params.py): values against their sources, range checks, TOML sets, and the set
reaching the spiking network. Reference values are typed from the sources (Fore et al. 2020's model code; the
BSB configuration of Geminiani et al.'s E-GLIF cells), derived values computed by hand."""

import dataclasses

import brian2 as b2
import numpy as np
import pytest

from bio import params
from bio.spiking import CONSTANTS, SpikingLoop
from bio.wiring import circuit_graph

FORE_GRANULE = dict(C_m=3.1 * b2.pF, g_L=0.2 * b2.nS, g_tonic=1.0 * b2.nS, E_L=-75 * b2.mV, V_th=-55 * b2.mV,
                    V_reset=-75 * b2.mV, refractory=2 * b2.ms)
FORE_GOLGI = dict(C_m=60 * b2.pF, g_L=3 * b2.nS, E_L=-51 * b2.mV, V_th=-50 * b2.mV, V_reset=-55 * b2.mV,
                  refractory=10 * b2.ms)
FORE_SYNAPSES = dict(E_e=0 * b2.mV, E_i=-75 * b2.mV, tau_e=12 * b2.ms, tau_i=20 * b2.ms)


def close(a, b):
    return b2.get_dimensions(a) == b2.get_dimensions(b) and np.isclose(float(a), float(b), rtol=1e-9, atol=0)


def test_fore2020_values_match_the_model_code():
    p = params.CELL_PARAMS["fore2020"]
    for group, expected in (("granule", FORE_GRANULE), ("golgi", FORE_GOLGI), ("synapses", FORE_SYNAPSES)):
        for name, value in expected.items():
            assert close(getattr(getattr(p, group), name), value), (group, name)


def test_derived_membrane_of_fore2020_with_and_without_tonic_gaba():
    # hand: 3.1 pF / (0.2 + 1) nS = 2.5833 ms, 1 / 1.2 nS = 0.8333 GOhm; without tonic 15.5 ms, 5 GOhm
    tonic, notonic = params.CELL_PARAMS["fore2020"].granule, params.CELL_PARAMS["fore2020-notonic"].granule
    assert float(tonic.tau_m / b2.ms) == pytest.approx(2.58333, rel=1e-4)
    assert float(tonic.R_in / b2.Gohm) == pytest.approx(0.83333, rel=1e-4)
    assert float(notonic.tau_m / b2.ms) == pytest.approx(15.5, rel=1e-9)
    assert float(notonic.R_in / b2.Gohm) == pytest.approx(5.0, rel=1e-9)
    assert float(params.CELL_PARAMS["fore2020"].golgi.tau_m / b2.ms) == pytest.approx(20.0, rel=1e-9)


def test_notonic_set_is_fore_et_al_without_tonic_gaba_and_the_default_adds_a_2ms_golgi_refractory_period():
    """fore2020-notonic reproduces bio.spiking.CONSTANTS (Fore et al. 2020) exactly; the default set differs from it
    in the Golgi cell's refractory period alone (2 ms, Geminiani et al. 2018, against Fore et al.'s 10 ms)."""
    notonic, default = params.CELL_PARAMS["fore2020-notonic"], params.get_cell_params(params.DEFAULT)
    for name, value in notonic.namespace().items():
        assert close(value, CONSTANTS[name]), name
    assert close(notonic.granule.refractory, 2 * b2.ms) and close(notonic.golgi.refractory, 10 * b2.ms)
    assert close(notonic.golgi.V_th, -50 * b2.mV)
    assert notonic.granule.g_tonic == 0 * b2.nS
    assert default.name == "fore2020-golgi-2ms" and close(default.golgi.refractory, 2 * b2.ms)
    assert default == dataclasses.replace(notonic, name=default.name, citation=default.citation,
                                          golgi=dataclasses.replace(notonic.golgi, refractory=2 * b2.ms),
                                          sources=default.sources)
    assert "Geminiani et al. 2018" in default.sources["golgi.refractory"]


def test_geminiani_values_match_the_bsb_configuration():
    p = params.CELL_PARAMS["geminiani2019-lif"]
    # configurations/mouse/nest/basal.yaml: granule C_m 7, tau_m 24.15, E_L -62, V_th -41, V_reset -70, t_ref 1.5;
    # Golgi C_m 145, tau_m 44, E_L -62, V_th -55, V_reset -75, t_ref 2; E_rev1 0, E_rev2 -80
    expected = {"granule": dict(C_m=7 * b2.pF, E_L=-62 * b2.mV, V_th=-41 * b2.mV, V_reset=-70 * b2.mV,
                                refractory=1.5 * b2.ms, tau_m=24.15 * b2.ms),
                "golgi": dict(C_m=145 * b2.pF, E_L=-62 * b2.mV, V_th=-55 * b2.mV, V_reset=-75 * b2.mV,
                              refractory=2 * b2.ms, tau_m=44 * b2.ms),
                "synapses": dict(E_e=0 * b2.mV, E_i=-80 * b2.mV, tau_e=5.8 * b2.ms, tau_i=13.61 * b2.ms)}
    for group, values in expected.items():
        for name, value in values.items():
            assert close(getattr(getattr(p, group), name), value), (group, name)
    assert float(p.granule.g_L / b2.nS) == pytest.approx(7 / 24.15, rel=1e-9)


def test_every_set_cites_every_value():
    for p in params.CELL_PARAMS.values():
        assert set(p.sources) == set(params.parameter_keys())
        assert all(p.sources[key].strip() for key in params.parameter_keys())
        assert {row[0] for row in p.table()} >= set(params.parameter_keys())


@pytest.mark.parametrize("change, message", [
    (dict(g_L=0.2 * b2.psiemens, g_tonic=0 * b2.nS), "tau_m"),  # a unit slip: 1,000x tau_m and R_in
    (dict(g_L=0.05 * b2.nS, g_tonic=0 * b2.nS, C_m=1 * b2.pF), "R_in"),  # 20 GOhm, tau_m 20 ms
    (dict(C_m=3.1 * b2.nF), "tau_m"),  # 1,000x the capacitance
    (dict(V_reset=-50 * b2.mV), "V_reset"),  # reset above threshold
    (dict(E_L=-50 * b2.mV, V_th=-55 * b2.mV), "E_L"),  # rest above threshold (E_L in range, V_th in range)
    (dict(C_m=3.1 * b2.mV), "farad"),  # wrong dimension
    (dict(refractory=2.0), "second"),  # no unit
])
def test_granule_checks_refuse_unphysiological_values(change, message):
    with pytest.raises(ValueError, match=message):
        params.Granule(**{**FORE_GRANULE, **change})


def test_range_bounds_hold_at_the_limits():
    # tau_m at the upper bound 50 ms passes, just above fails (C_m / g_L with g_tonic 0, R_in 5 GOhm)
    ok = {**FORE_GRANULE, "g_tonic": 0 * b2.nS, "C_m": 10 * b2.pF}  # 10 pF / 0.2 nS = 50 ms
    params.Granule(**ok)
    with pytest.raises(ValueError, match="tau_m"):
        params.Granule(**{**ok, "C_m": 10.01 * b2.pF})
    with pytest.raises(ValueError, match="E_i"):
        params.Synapses(**{**FORE_SYNAPSES, "E_i": 75 * b2.mV})  # sign slip


def test_replace_revalidates():
    with pytest.raises(ValueError, match="outside the physiological range"):
        dataclasses.replace(params.CELL_PARAMS["fore2020-notonic"].granule, g_L=0.02 * b2.nS)


def test_set_without_a_source_is_refused():
    p = params.CELL_PARAMS["fore2020"]
    sources = {k: v for k, v in p.sources.items() if k != "golgi.C_m"}
    with pytest.raises(ValueError, match="golgi.C_m"):
        dataclasses.replace(p, sources=sources)


def test_toml_set_with_base_units_and_sources():
    text = """
name = "half-tonic"
citation = "test citation"
base = "fore2020"
[granule]
g_tonic = { value = "500 pS", source = "half of Fore et al." }
V_th = "-52 mV"
[golgi]
refractory = "5e-3 s"
"""
    p = params.from_toml(text, origin="test.toml")
    assert p.name == "half-tonic"
    assert close(p.granule.g_tonic, 0.5 * b2.nS) and close(p.granule.V_th, -52 * b2.mV)
    assert close(p.golgi.refractory, 5 * b2.ms)
    assert close(p.granule.C_m, 3.1 * b2.pF)  # from the base
    assert p.sources["granule.g_tonic"] == "half of Fore et al."
    assert p.sources["granule.V_th"] == "test citation"
    assert p.sources["granule.C_m"] == params.CELL_PARAMS["fore2020"].sources["granule.C_m"]


@pytest.mark.parametrize("body, message", [
    ('base = "fore2020"\n[granule]\nC_m = "3.1 mV"', "not in"),  # wrong dimension
    ('base = "fore2020"\n[granule]\nC_m = "3.1"', "number and a unit"),
    ('base = "fore2020"\n[granule]\nC_m = "3.1 furlongs"', "number and a unit"),
    ('base = "fore2020"\n[granule]\nC_m = "__import__(\'os\') pF"', "number and a unit"),
    ('base = "fore2020-notonic"\n[granule]\ng_L = "0.2 pS"', "tau_m"),
    ('base = "fore2020"\n[granule]\nwidth = "1 ms"', "unknown parameters"),
    ('base = "fore2020"\nspeed = 1', "unknown keys"),
    ('base = "nope"', "one of"),
    ('[granule]\nC_m = "3.1 pF"', "missing"),  # no base: every value needed
    ('base = "fore2020"\n[granule', "invalid TOML"),
])
def test_toml_refusals_name_the_file_and_the_fix(body, message):
    text = 'name = "x"\ncitation = "y"\n' + body if not body.startswith("name") else body
    with pytest.raises(ValueError, match=message) as info:
        params.from_toml(text, origin="my.toml")
    assert "my.toml" in str(info.value) or "one of" in str(info.value)


def test_unknown_name_is_refused():
    with pytest.raises(ValueError, match="fore2020"):
        params.get_cell_params("fore2021")


def _activity(cell_params, max_rate_hz=100.0, e_gaba_mV=-75.0):
    """Granule activity of a tiny spiking layer (no Golgi input: Golgi gain 0) on one fixed input (100 Hz mossy
    trains at most, below saturation: default set ~7 of 20 cells' maximal rate, fore2020 ~1.5)."""
    graph = circuit_graph(8, 20, 2, n_golgi=1, sparse_dendrites=4, seed=1)
    loop = SpikingLoop(graph, 1, 0.1, "numpy", "regular", "lif", cell_params)
    rng = np.random.default_rng(0)
    address = rng.random((8, 20)) * graph.edges["mossy", "granule"]["mask"]
    address /= np.linalg.norm(address, axis=0)
    x = rng.random((1, 8))
    x /= np.linalg.norm(x)
    ns = dict(q_mossy=0.5 * b2.nS, q_granule=2 * b2.nS, q_golgi=1 * b2.nS, gain=0.0, V_th_golgi=-50 * b2.mV,
              tau_mossy=12 * b2.ms, tau_gaba=20 * b2.ms, q_mossy_golgi=0 * b2.nS, q_golgi_golgi=0 * b2.nS,
              golgi_threshold_sd=0 * b2.mV, g_tonic=cell_params.granule.g_tonic)
    return loop.run(x * max_rate_hz, address, np.full(20, e_gaba_mV), 100.0, 50.0, ns, seed=3)


def test_the_set_reaches_the_spiking_network():
    """Tonic GABA (fore2020, 1 nS at E_GABA -75 mV) shunts the granule cells below the no-tonic default's activity;
    a raised threshold silences them."""
    base = _activity(params.CELL_PARAMS["fore2020-notonic"])
    assert base.sum() > 0
    tonic = _activity(params.CELL_PARAMS["fore2020"])
    assert tonic.sum() < 0.5 * base.sum()
    high = dataclasses.replace(params.CELL_PARAMS["fore2020-notonic"], name="high", granule=dataclasses.replace(
        params.CELL_PARAMS["fore2020-notonic"].granule, V_th=-35 * b2.mV))
    assert _activity(high).sum() < base.sum()


def test_saturated_cells_fire_at_the_sets_refractory_limit():
    """Driven hard (1,000 Hz mossy trains), granule cells fire near 1 / refractory: activity (rate x refractory)
    well above a tenth and not above 1, with Fore's 2 ms and with E-GLIF's 1.5 ms."""
    for name in ("fore2020-notonic", "geminiani2019-lif"):
        activity = _activity(params.CELL_PARAMS[name], max_rate_hz=1000.0)
        assert 0.4 < activity.mean() and activity.max() <= 1.0, name  # measured 0.88 and 0.59
