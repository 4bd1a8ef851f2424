"""The anatomy preset (4 mossy fibers per granule cell, local Golgi territories), graph validation, and the
GraphML + npz round trip of a circuit's wiring (bio/wiring.py)."""

import networkx as nx
import numpy as np
import pytest

from bio import CerebellarCircuit
from bio.wiring import check_graph, circuit_graph, dump_wiring, load_wiring


def _local(n_neurons=1000, n_golgi=10, **kwargs):
    return circuit_graph(64, n_neurons, 10, n_golgi=n_golgi, anatomy="dendrites4", seed=3, **kwargs)


def test_preset_gives_each_granule_cell_four_mossy_fibers_and_four_golgi_cells():
    g = _local()
    np.testing.assert_array_equal(g.edges["mossy", "granule"]["mask"].sum(axis=0), 4)
    np.testing.assert_array_equal(g.edges["golgi", "granule"]["mask"].sum(axis=0), 4)
    # each Golgi cell is excited by 100 granule cells (Fore et al. 2020's conv_GoC_GrC)
    np.testing.assert_array_equal(g.edges["granule", "golgi"]["mask"].sum(axis=0), 100)


def test_each_golgi_territory_is_local():
    """Golgi cell k inhibits only granule cells within 2 Golgi spacings of it on the periodic strip (its 4
    nearest neighbours reach no further), about 4 x 1000 / 10 = 400 of them, and is excited only by those."""
    n_neurons, n_golgi = 1000, 10
    g = _local(n_neurons, n_golgi)
    inhibits = g.edges["golgi", "granule"]["mask"]  # (n_golgi, n_neurons)
    granule_at, golgi_at = (np.arange(n_neurons) + 0.5) / n_neurons, (np.arange(n_golgi) + 0.5) / n_golgi
    for k in range(n_golgi):
        targets = np.flatnonzero(inhibits[k])
        gap = np.abs(granule_at[targets] - golgi_at[k])
        distance = np.minimum(gap, 1 - gap)
        assert distance.max() <= 2 / n_golgi + 1e-12
        assert 380 <= targets.size <= 420
        assert set(np.flatnonzero(g.edges["granule", "golgi"]["mask"][:, k])) <= set(targets)
    # the territory of Golgi cell 0 is an arc around 0.05: it holds granule cell 0's neighbourhood, not the far side
    assert inhibits[0, 0] and not inhibits[0, n_neurons // 2]
    np.testing.assert_allclose(g.nodes["granule"]["position"], granule_at)


def test_preset_refusals():
    with pytest.raises(ValueError, match="sparse_dendrites"):
        circuit_graph(64, 100, 10, anatomy="dendrites4", sparse_dendrites=4)
    with pytest.raises(ValueError, match="n_golgi"):
        circuit_graph(64, 5, 10, n_golgi=6, anatomy="dendrites4")
    with pytest.raises(ValueError, match="anatomy"):
        circuit_graph(64, 100, 10, anatomy="glomeruli")


def test_global_anatomy_is_unchanged_by_default():
    a, b = circuit_graph(64, 200, 10, sparse_dendrites=4, seed=5), circuit_graph(64, 200, 10, 4, 0.9, 4, 5,
                                                                                     anatomy="global")
    for edge in a.edges:
        np.testing.assert_array_equal(a.edges[edge]["mask"], b.edges[edge]["mask"])
    # p = 0.9 Golgi projections: ~90 % of the granule cells per Golgi cell (global inhibition)
    assert 0.85 < a.edges["golgi", "granule"]["mask"].mean() < 0.95


def _assert_same_graph(g: nx.DiGraph, h: nx.DiGraph) -> None:
    assert list(g.nodes) == list(h.nodes) and set(g.edges) == set(h.edges)
    pairs = [*((g.nodes[n], h.nodes[n]) for n in g.nodes), *((g.edges[e], h.edges[e]) for e in g.edges)]
    for owner_g, owner_h in pairs:
        assert set(owner_g) == set(owner_h)
        for key, value in owner_g.items():
            other = owner_h[key]
            assert type(other) is type(value), key
            if isinstance(value, np.ndarray):
                assert other.dtype == value.dtype
                np.testing.assert_array_equal(other, value)
            else:
                assert other == value, key


@pytest.mark.parametrize("graph", [
    circuit_graph(64, 300, 10, seed=1),
    circuit_graph(64, 300, 10, sparse_dendrites=4, seed=1, mossy_golgi=True, golgi_golgi=0.5),
    circuit_graph(64, 300, 10, n_golgi=6, anatomy="dendrites4", seed=1, mossy_golgi=True),
], ids=["global-dense", "global-sparse-options", "dendrites4"])
def test_round_trip_keeps_masks_and_attributes(graph):
    graph.nodes["golgi"]["coupling"] = 0.5  # as the circuit sets it
    graphml, npz = dump_wiring(graph)
    assert graphml.startswith(b"<graphml")
    _assert_same_graph(graph, load_wiring(graphml, npz))


def test_load_refuses_foreign_or_mismatched_files():
    graphml, npz = dump_wiring(circuit_graph(16, 30, 2, seed=0))
    with pytest.raises(ValueError, match="GraphML"):
        load_wiring(b"not xml", npz)
    with pytest.raises(ValueError, match="format"):
        load_wiring("\n".join(nx.generate_graphml(nx.path_graph(3, create_using=nx.DiGraph))).encode(), npz)
    with pytest.raises(ValueError, match="npz"):
        load_wiring(graphml, b"garbage")
    _, other_npz = dump_wiring(circuit_graph(16, 30, 2, seed=0, mossy_golgi=True))
    with pytest.raises(ValueError, match="do not belong together"):
        load_wiring(graphml, other_npz)


def test_dump_refuses_unstorable_attributes():
    g = circuit_graph(16, 30, 2)
    g.nodes["granule"]["note"] = ["a", "list"]
    with pytest.raises(ValueError, match="list"):
        dump_wiring(g)


def test_check_graph_refusals():
    good = circuit_graph(16, 30, 2, seed=0)
    check_graph(good, 16, 30, 2)
    with pytest.raises(ValueError, match="size"):
        check_graph(good, 16, 31, 2)
    missing = good.copy()
    missing.remove_edge("golgi", "granule")
    with pytest.raises(ValueError, match="golgi -> granule"):
        check_graph(missing, 16, 30, 2)
    bad = circuit_graph(16, 30, 2, seed=0)
    bad.edges["mossy", "granule"]["mask"] = np.ones((16, 29), bool)
    with pytest.raises(ValueError, match=r"shape \(16, 30\)"):
        check_graph(bad, 16, 30, 2)
    orphan = circuit_graph(16, 30, 2, seed=0)
    orphan.edges["golgi", "granule"]["mask"][:, 7] = False
    with pytest.raises(ValueError, match="first: 7"):
        check_graph(orphan, 16, 30, 2)


def test_circuit_runs_on_a_users_graph():
    graph = circuit_graph(64, 100, 10, n_golgi=5, anatomy="dendrites4", seed=9)
    graph = load_wiring(*dump_wiring(graph))
    circuit = CerebellarCircuit(64, 100, 10, graph=graph, seed=0)
    state = circuit.state_dict()
    for u, v in (("mossy", "granule"), ("granule", "golgi"), ("golgi", "granule")):
        np.testing.assert_array_equal(state[f"mask_{u}_{v}"], graph.edges[u, v]["mask"])
    assert circuit.graph is not graph  # a copy: the circuit's coupling attribute does not touch the user's graph
    assert (circuit.address_[~graph.edges["mossy", "granule"]["mask"]] == 0).all()
    with pytest.raises(ValueError, match="n_golgi"):
        CerebellarCircuit(64, 100, 10, graph=graph, n_golgi=5)
    with pytest.raises(ValueError, match="size"):
        CerebellarCircuit(64, 99, 10, graph=graph)


def test_circuit_preset_defaults_golgi_count_from_the_cell_ratio():
    # 1000 granule cells at 4,096 : 27 -> round(6.59) = 7 Golgi cells
    circuit = CerebellarCircuit(64, 1000, 10, anatomy="dendrites4")
    assert circuit.graph.nodes["golgi"]["size"] == 7
    np.testing.assert_array_equal(circuit.graph.edges["mossy", "granule"]["mask"].sum(axis=0), 4)
