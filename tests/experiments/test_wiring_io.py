"""Wiring files on disk (experiments/wiring_io.py), cell parameter sets from TOML files and their generated docs
page (experiments/param_tables.py), and both reaching the circuit through the registry."""

import numpy as np
import pytest

from bio import params
from bio.wiring import circuit_graph
from experiments import param_tables
from experiments.config import CELL_PARAMS_NAMES, ConfigError, build_config
from experiments.registry import build_learner, describe_settings
from experiments.wiring_io import WiringError, read_wiring, save_wiring


def test_save_and_read_round_trip(tmp_path):
    graph = circuit_graph(64, 200, 10, n_golgi=4, anatomy="dendrites4", seed=2)
    graphml, npz = save_wiring(graph, tmp_path / "w.graphml")
    assert graphml.is_file() and npz == tmp_path / "w.npz" and npz.is_file()
    back = read_wiring(graphml)
    for edge in graph.edges:
        np.testing.assert_array_equal(back.edges[edge]["mask"], graph.edges[edge]["mask"])
        assert back.edges[edge]["rule"] == graph.edges[edge]["rule"]
    np.testing.assert_array_equal(back.nodes["granule"]["position"], graph.nodes["granule"]["position"])


def test_read_refusals_name_the_file(tmp_path):
    with pytest.raises(WiringError, match="graphml"):
        read_wiring(tmp_path / "w.npz")
    save_wiring(circuit_graph(16, 30, 2), tmp_path / "w.graphml")
    (tmp_path / "w.npz").unlink()
    with pytest.raises(WiringError, match="w.npz does not exist"):
        read_wiring(tmp_path / "w.graphml")
    (tmp_path / "x.graphml").write_text("<graphml>")
    (tmp_path / "x.npz").write_bytes(b"")
    with pytest.raises(WiringError, match="x.graphml"):
        read_wiring(tmp_path / "x.graphml")


def test_docs_page_is_generated_from_the_code():
    assert param_tables.CELL_PARAMS_MD.read_text() == param_tables.cell_params_markdown(), (
        "docs/cell-params.md is stale: run python -m experiments.docs")


def test_docs_page_lists_every_set_with_its_sources():
    page = param_tables.cell_params_markdown()
    for name, p in params.CELL_PARAMS.items():
        assert f"## `{name}`" in page
        assert p.sources["granule.C_m"] in page
    assert "| granule.g_tonic | tonic GABA-A conductance" in page
    assert "| 1 | nS |" in page  # fore2020's tonic GABA


def test_config_names_match_the_sets():
    assert CELL_PARAMS_NAMES == tuple(params.CELL_PARAMS)


def test_cell_params_from_a_toml_file(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\ncitation = "test"\nbase = "fore2020"\n[granule]\ng_tonic = "0.5 nS"\n')
    assert param_tables.resolve_cell_params("fore2020") == "fore2020"
    p = param_tables.resolve_cell_params(str(path))
    assert p.name == "mine" and float(p.granule.g_tonic / params.b2.nS) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="neither a named set"):
        param_tables.resolve_cell_params(str(tmp_path / "absent.toml"))
    path.write_text('name = "mine"\ncitation = "test"\nbase = "fore2020"\n[granule]\ng_tonic = "50 nS"\n')
    with pytest.raises(ValueError, match=r"mine.toml: .*g_tonic"):
        param_tables.resolve_cell_params(str(path))


def test_config_refusals():
    with pytest.raises(ConfigError, match="cell-params"):
        build_config({"cell_params": "fore2021"})
    with pytest.raises(ConfigError, match="graphml"):
        build_config({"wiring": "w.npz"})
    with pytest.raises(ConfigError, match="anatomy"):
        build_config({"wiring": "w.graphml", "anatomy": "dendrites4"})


def test_registry_builds_the_circuit_with_set_anatomy_and_wiring(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\ncitation = "test"\nbase = "fore2020"\n[granule]\ng_tonic = "0.5 nS"\n')
    config = build_config({"model": "bio-spiking", "n_neurons": 100, "cell_params": str(path),
                           "anatomy": "dendrites4", "codegen_target": "numpy"})
    circuit = build_learner(config, 64, 10)
    assert circuit.cell_params.name == "mine" and circuit.tonic_gaba_nS == pytest.approx(0.5)
    np.testing.assert_array_equal(circuit.graph.edges["mossy", "granule"]["mask"].sum(axis=0), 4)
    assert "cell_params=" in describe_settings(config) and "anatomy=dendrites4" in describe_settings(config)

    save_wiring(circuit.graph, tmp_path / "w.graphml")
    config = build_config({"model": "bio-rate", "n_neurons": 100, "wiring": str(tmp_path / "w.graphml"),
                           "codegen_target": "numpy"})
    again = build_learner(config, 64, 10)
    np.testing.assert_array_equal(again.graph.edges["golgi", "granule"]["mask"],
                                  circuit.graph.edges["golgi", "granule"]["mask"])
    with pytest.raises(ValueError, match="rate mode"):
        build_learner(build_config({"model": "bio-rate", "n_neurons": 100, "cell_params": "fore2020"}), 64, 10)
