"""The circuit's wiring as a ``networkx.DiGraph``: populations are nodes, projections are edges.

Nodes carry ``size`` (cells per circuit copy) and ``role``; edges carry the connection
``rule`` ("dense", "fixed_in_degree", "probability"), its parameter, a ``weight_init``
description and, for the granule<->Golgi loop, the sampled boolean ``mask``
(pre x post) from which the Brian2 synapses are built. The same graph draws the diagram
(``experiments/circuit_plot.py``).

Two anatomies (``ANATOMIES``):

- ``"global"`` (default): App. C.1 of Bricken et al. 2023, granule <-> Golgi present with probability
  0.9, so every Golgi cell reaches ~90 % of the granule cells; mossy -> granule dense, or a fixed number of
  mossy fibers per granule cell when ``sparse_dendrites`` is asked for.
- ``"dendrites4"``: the granular layer's anatomy. Each granule cell receives :data:`DENDRITES` (4) mossy
  fibers, one per dendrite (Eccles, Ito & Szentagothai 1967, The Cerebellum as a Neuronal Machine; Jakab &
  Hamori 1988, Anat Embryol 179:81). Cells lie on a periodic strip (``position`` in [0, 1), granule and
  Golgi cells evenly spaced); each granule cell is inhibited by its :data:`GOLGI_PER_GRANULE` (4) nearest
  Golgi cells, so a Golgi cell inhibits the granule cells of its own territory, and each Golgi cell is
  excited by :data:`GRANULE_PER_GOLGI_INPUT` (100) granule cells drawn from that territory (local ascending-
  axon feedback, Cesana et al. 2013, J Neurosci 33:12430). Convergences are those of Fore et al. 2020's
  model code (conv_GrC_M 4, conv_GrC_GoC 4, conv_GoC_GrC 100, conv_GoC_M 10), and the default Golgi count
  their cell ratio (4,096 granule and 27 Golgi cells per 100 um cube, :data:`GRANULE_PER_GOLGI_CELL`).

:func:`check_graph` validates a graph a user brings (``CerebellarCircuit(..., graph=...)``);
:func:`dump_wiring` / :func:`load_wiring` turn a graph into GraphML (populations, projections and their
scalar attributes) plus an ``.npz`` archive of its arrays (masks, positions, thresholds), as bytes and back.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping

import networkx as nx
import numpy as np

from bio import _checks

POPULATIONS = ("mossy", "granule", "golgi", "purkinje", "climbing")
ANATOMIES = ("global", "dendrites4")
P_GOLGI = 0.9  # granule <-> Golgi connection probability (Bricken et al. ICLR 2023, App. C.1)
# "dendrites4" (see the module docstring for the sources)
DENDRITES = 4  # mossy fibers per granule cell (Eccles et al. 1967; Jakab & Hamori 1988)
GOLGI_PER_GRANULE = 4  # Golgi cells inhibiting each granule cell (Fore et al. 2020 code, conv_GrC_GoC)
GRANULE_PER_GOLGI_INPUT = 100  # granule cells exciting each Golgi cell (Fore et al. 2020 code, conv_GoC_GrC)
MOSSY_PER_GOLGI = 10  # mossy fibers exciting each Golgi cell (Fore et al. 2020 code, conv_GoC_M)
GRANULE_PER_GOLGI_CELL = 4096 / 27  # cell ratio of Fore et al. 2020's 100 um cube of granular layer
# edges every circuit needs, with a boolean mask each (pre x post)
REQUIRED_EDGES = (("mossy", "granule"), ("granule", "golgi"), ("golgi", "granule"), ("granule", "purkinje"),
                  ("climbing", "purkinje"))
OPTIONAL_EDGES = (("mossy", "golgi"), ("golgi", "golgi"))
FORMAT = "csdm-wiring 1"  # graph attribute of an exported wiring


def circuit_graph(
    n_inputs: int,
    n_neurons: int,
    n_outputs: int,
    n_golgi: int = 4,
    p_golgi: float = P_GOLGI,
    sparse_dendrites: int | None = None,
    seed: int = 0,
    mossy_golgi: bool = False,
    golgi_golgi: float = 0.0,
    anatomy: str = "global",
) -> nx.DiGraph:
    """Build the population graph of one cerebellar circuit copy.

    Parameters
    ----------
    n_inputs, n_neurons, n_outputs : mossy fibers, granule cells, Purkinje cells (one per class).
    n_golgi : Golgi cells per circuit copy.
    p_golgi : probability of each granule->Golgi and Golgi->granule connection (0.9 in App. C.1).
    sparse_dendrites : if given, each granule cell receives exactly this many mossy fibers
        (~4 in vivo); otherwise mossy->granule is dense (the SDMLP's address matrix).
    seed : seeds the sampled masks.
    mossy_golgi : add the feedforward projection mossy -> Golgi (dense; spiking mode sets its weights to the
        granule cells' mean address, so a Golgi cell sees the mean granule drive; Kanichay & Silver 2008,
        J Neurosci 28:8955).
    golgi_golgi : probability of each Golgi -> Golgi connection (no autapses; 0: no projection). Golgi
        cells inhibit each other (Hull & Regehr 2012, Neuron 73:149).
    anatomy : "global" (App. C.1: ``p_golgi``, ``sparse_dendrites``) or "dendrites4" (4 mossy fibers per
        granule cell, Golgi cells with local territories; ``p_golgi`` and ``sparse_dendrites`` do not apply,
        and the feedforward projection takes MOSSY_PER_GOLGI random mossy fibers per Golgi cell). See the
        module docstring.

    The Golgi node also carries ``threshold_z``, one standard-normal draw per Golgi cell (its own
    random stream, so the masks do not depend on it): spiking mode offsets each LIF Golgi cell's
    threshold by ``threshold_z`` x the circuit's ``golgi_threshold_sd_mV``.

    Returns
    -------
    networkx.DiGraph with the five populations and their projections.

    Examples
    --------
    >>> g = circuit_graph(64, 1000, 10)
    >>> g.nodes["granule"]["size"], g.edges["granule", "golgi"]["rule"]
    (1000, 'probability')
    """
    owner = "circuit_graph"
    n_inputs, n_neurons = (
        _checks.count("n_inputs", n_inputs, owner=owner),
        _checks.count("n_neurons", n_neurons, owner=owner),
    )
    n_outputs = _checks.count("n_outputs", n_outputs, 2, owner=owner)
    n_golgi = _checks.count("n_golgi", n_golgi, owner=owner)
    p_golgi = _checks.fraction("p_golgi", p_golgi, owner=owner)
    anatomy = _checks.choice("anatomy", anatomy, ANATOMIES, owner=owner)
    local = anatomy == "dendrites4"
    if local:
        if sparse_dendrites is not None:
            raise ValueError(f"The 'sparse_dendrites' parameter of {owner} does not apply to anatomy='dendrites4' "
                             f"({DENDRITES} mossy fibers per granule cell). Got {sparse_dendrites}; pass None.")
        if n_golgi > n_neurons:
            raise ValueError(f"The 'n_golgi' parameter of {owner} must be <= n_neurons ({n_neurons}) with "
                             f"anatomy='dendrites4' (each Golgi cell needs a territory). Got {n_golgi}.")
        sparse_dendrites = min(DENDRITES, n_inputs)
    if sparse_dendrites is not None:
        sparse_dendrites = _checks.count("sparse_dendrites", sparse_dendrites, owner=owner)
        if sparse_dendrites > n_inputs:
            raise ValueError(
                f"The 'sparse_dendrites' parameter of {owner} must be <= n_inputs ({n_inputs}). "
                f"Got {sparse_dendrites}; pass None for dense dendrites."
            )
    rng = np.random.default_rng(seed)
    g = nx.DiGraph()
    g.add_node("mossy", size=n_inputs, role="input rates (L2-normalised x)")
    g.add_node("granule", size=n_neurons, role="SDM neurons (Eq. 13 excitatory units)")
    g.add_node("golgi", size=n_golgi, role="feedback inhibition (Top-K)",
               threshold_z=np.random.default_rng([seed, 1]).standard_normal(n_golgi))
    g.add_node("purkinje", size=n_outputs, role="read-out, one per class")
    g.add_node("climbing", size=n_outputs, role="teaching signal")

    if sparse_dendrites is None:
        g.add_edge(
            "mossy",
            "granule",
            rule="dense",
            param=None,
            mask=np.ones((n_inputs, n_neurons), bool),
            weight_init="uniform[0,1), columns L2-normalised",
            name="address",
        )
    else:
        mask = _in_degree_mask(rng, n_inputs, n_neurons, sparse_dendrites)
        g.add_edge(
            "mossy",
            "granule",
            rule="fixed_in_degree",
            param=sparse_dendrites,
            mask=mask,
            weight_init="uniform[0,1) on the mask, columns L2-normalised",
            name="address",
        )
    if not local:
        g.add_edge(
            "granule",
            "golgi",
            rule="probability",
            param=p_golgi,
            mask=_probability_mask(rng, n_neurons, n_golgi, p_golgi),
            weight_init="1 / in-degree of the Golgi cell (input = mean granule activity)",
            name="W_EI",
        )
        g.add_edge(
            "golgi",
            "granule",
            rule="probability",
            param=p_golgi,
            mask=_probability_mask(rng, n_golgi, n_neurons, p_golgi),
            weight_init="1 / in-degree of the granule cell (inhibition sums to 1)",
            name="W_IE",
        )
    if local:
        _local_golgi(g, rng)
    if mossy_golgi and local:
        mask = _in_degree_mask(rng, n_inputs, n_golgi, min(MOSSY_PER_GOLGI, n_inputs))
        g.add_edge("mossy", "golgi", rule="fixed_in_degree", param=int(mask.sum(axis=0)[0]), mask=mask,
                   weight_init="mean granule address (input = mean drive of these fibers)", name="feedforward")
    elif mossy_golgi:
        g.add_edge("mossy", "golgi", rule="dense", param=None, mask=np.ones((n_inputs, n_golgi), bool),
                   weight_init="mean granule address (input = mean drive)", name="feedforward")
    if golgi_golgi > 0:
        golgi_golgi = _checks.fraction("golgi_golgi", golgi_golgi, owner=owner)
        mask = np.random.default_rng([seed, 2]).random((n_golgi, n_golgi)) < golgi_golgi
        np.fill_diagonal(mask, False)
        g.add_edge("golgi", "golgi", rule="probability", param=golgi_golgi, mask=mask,
                   weight_init="1 / in-degree of the Golgi cell", name="golgi_golgi")
    g.add_edge(
        "granule",
        "purkinje",
        rule="dense",
        param=None,
        mask=np.ones((n_neurons, n_outputs), bool),
        weight_init="zeros",
        name="value",
    )
    g.add_edge(
        "climbing",
        "purkinje",
        rule="one_to_one",
        param=None,
        mask=np.eye(n_outputs, dtype=bool),
        weight_init="teach = one-hot target - Purkinje output",
        name="teach",
    )
    return g


def _in_degree_mask(rng: np.random.Generator, n_pre: int, n_post: int, in_degree: int) -> np.ndarray:
    """Mask (n_pre, n_post) in which every post cell has ``in_degree`` distinct pre cells drawn at random."""
    mask = np.zeros((n_pre, n_post), bool)
    for j in range(n_post):
        mask[rng.choice(n_pre, in_degree, replace=False), j] = True
    return mask


def ring_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance on the periodic strip [0, 1) between positions ``a`` (m,) and ``b`` (n,): (m, n)."""
    d = np.abs(a[:, None] - b[None, :])
    return np.minimum(d, 1.0 - d)


def _local_golgi(g: nx.DiGraph, rng: np.random.Generator) -> None:
    """The "dendrites4" granule <-> Golgi projections: positions on the strip, each granule cell inhibited by
    its GOLGI_PER_GRANULE nearest Golgi cells, each Golgi cell excited by GRANULE_PER_GOLGI_INPUT granule
    cells drawn from those it inhibits (all of them when its territory is smaller)."""
    n_neurons, n_golgi = g.nodes["granule"]["size"], g.nodes["golgi"]["size"]
    granule_at = (np.arange(n_neurons) + 0.5) / n_neurons
    golgi_at = (np.arange(n_golgi) + 0.5) / n_golgi
    g.nodes["granule"]["position"], g.nodes["golgi"]["position"] = granule_at, golgi_at
    convergence = min(GOLGI_PER_GRANULE, n_golgi)
    nearest = np.argsort(ring_distance(granule_at, golgi_at), axis=1, kind="stable")[:, :convergence]
    inhibits = np.zeros((n_golgi, n_neurons), bool)
    inhibits[nearest, np.arange(n_neurons)[:, None]] = True
    excites = np.zeros((n_neurons, n_golgi), bool)
    for k in range(n_golgi):
        territory = np.flatnonzero(inhibits[k])
        excites[rng.choice(territory, min(GRANULE_PER_GOLGI_INPUT, territory.size), replace=False), k] = True
    g.add_edge("granule", "golgi", rule="local_in_degree", param=GRANULE_PER_GOLGI_INPUT, mask=excites,
               weight_init="1 / in-degree of the Golgi cell (input = mean granule activity)", name="W_EI")
    g.add_edge("golgi", "granule", rule="local_in_degree", param=convergence, mask=inhibits,
               weight_init="1 / in-degree of the granule cell (inhibition sums to 1)", name="W_IE")


def _probability_mask(rng: np.random.Generator, n_pre: int, n_post: int, p: float) -> np.ndarray:
    """Bernoulli(p) mask (n_pre, n_post); every post cell keeps at least one input."""
    mask = rng.random((n_pre, n_post)) < p
    orphans = np.flatnonzero(~mask.any(axis=0))
    mask[rng.integers(n_pre, size=orphans.size), orphans] = True
    return mask


def normalised_weights(mask: np.ndarray) -> np.ndarray:
    """Weights ``mask / in-degree`` (pre x post): each post cell's inputs sum to exactly 1.

    App. C.1 uses 1/(p r_I) so the sum is 1 *in expectation*; normalising per cell removes the
    +-30 % spread in inhibition that otherwise decides, more than the drive, which cells survive.
    """
    return (mask / mask.sum(axis=0, keepdims=True)).astype(np.float64)


def check_graph(graph: nx.DiGraph, n_inputs: int, n_neurons: int, n_outputs: int) -> nx.DiGraph:
    """Validate a circuit graph a user brings (e.g. from :func:`load_wiring`) against the circuit's sizes.

    It must hold the five populations with their ``size``, the projections of ``REQUIRED_EDGES`` (and any of
    ``OPTIONAL_EDGES``) with a boolean ``mask`` of shape (pre size, post size), every granule cell with at
    least one mossy and one Golgi input and every Golgi cell with at least one granule input (the weights
    are normalised per cell). Returns the graph.
    """
    owner = "CerebellarCircuit"
    if not isinstance(graph, nx.DiGraph):
        raise ValueError(f"The 'graph' parameter of {owner} must be a networkx.DiGraph (bio.circuit_graph, "
                         f"bio.wiring.load_wiring). Got {type(graph).__name__}.")
    expected = {"mossy": n_inputs, "granule": n_neurons, "golgi": None, "purkinje": n_outputs, "climbing": n_outputs}
    for node, size in expected.items():
        if node not in graph:
            raise ValueError(f"The 'graph' of {owner} lacks the population {node!r}; it needs "
                             f"{', '.join(POPULATIONS)}.")
        got = graph.nodes[node].get("size")
        if isinstance(got, bool) or not isinstance(got, int | np.integer) or got < 1 or size not in (None, got):
            raise ValueError(f"The 'graph' of {owner}: population {node!r} has size {got!r}; expected "
                             f"{size if size is not None else 'an int >= 1'}.")
    for u, v in REQUIRED_EDGES + OPTIONAL_EDGES:
        if not graph.has_edge(u, v):
            if (u, v) in REQUIRED_EDGES:
                raise ValueError(f"The 'graph' of {owner} lacks the projection {u} -> {v}.")
            continue
        mask = graph.edges[u, v].get("mask")
        shape = (graph.nodes[u]["size"], graph.nodes[v]["size"])
        if not isinstance(mask, np.ndarray) or mask.dtype != bool or mask.shape != shape:
            raise ValueError(f"The 'graph' of {owner}: projection {u} -> {v} needs a boolean 'mask' of shape {shape} "
                             f"(pre x post). Got {getattr(mask, 'dtype', type(mask).__name__)} "
                             f"{getattr(mask, 'shape', '')}.")
    for (u, v), what in ((("mossy", "granule"), "granule cell"), (("golgi", "granule"), "granule cell"),
                         (("granule", "golgi"), "Golgi cell")):
        orphans = np.flatnonzero(~graph.edges[u, v]["mask"].any(axis=0))
        if orphans.size:
            raise ValueError(f"The 'graph' of {owner}: {orphans.size} {what}(s) (first: {orphans[0]}) receive no "
                             f"{u} input; every {what} needs at least one.")
    z = graph.nodes["golgi"].get("threshold_z")
    if z is not None and np.shape(z) != (graph.nodes["golgi"]["size"],):
        raise ValueError(f"The 'graph' of {owner}: golgi 'threshold_z' must have shape "
                         f"({graph.nodes['golgi']['size']},). Got {np.shape(z)}.")
    return graph


def _scalar(value: object, where: str) -> object:
    """A GraphML-storable scalar (bool, int, float, str) from ``value``; refuse anything else."""
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, bool | int | float | str):
        raise ValueError(f"dump_wiring: {where} is a {type(value).__name__}; GraphML holds bool, int, float, str and "
                         "the archive numpy arrays.")
    return value


def dump_wiring(graph: nx.DiGraph) -> tuple[bytes, bytes]:
    """A circuit graph as (GraphML bytes, ``.npz`` bytes).

    GraphML keeps the populations, projections and every scalar attribute (a None is listed in the graph
    attribute ``null_attributes``); the ``.npz`` archive keeps every numpy array attribute under
    ``node:NODE:ATTR`` or ``edge:PRE:POST:ATTR`` (masks, positions, Golgi threshold draws).
    """
    flat, arrays, nulls = nx.DiGraph(format=FORMAT), {}, []

    def split(key: str, attrs: Mapping) -> dict:
        kept = {}
        for name, value in attrs.items():
            if isinstance(value, np.ndarray):
                arrays[f"{key}:{name}"] = value
            elif value is None:
                nulls.append(f"{key}:{name}")
            else:
                kept[name] = _scalar(value, f"{key}:{name}")
        return kept

    for node, attrs in graph.nodes(data=True):
        flat.add_node(node, **split(f"node:{node}", attrs))
    for u, v, attrs in graph.edges(data=True):
        flat.add_edge(u, v, **split(f"edge:{u}:{v}", attrs))
    flat.graph["null_attributes"] = json.dumps(nulls)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return "\n".join(nx.generate_graphml(flat)).encode("utf-8"), buffer.getvalue()


def load_wiring(graphml: bytes, npz: bytes) -> nx.DiGraph:
    """The circuit graph that :func:`dump_wiring` wrote (GraphML bytes and ``.npz`` bytes); raises ValueError on
    anything else. Validate it against a circuit's sizes with :func:`check_graph`."""
    try:
        flat = nx.parse_graphml(graphml.decode("utf-8"))
    except (UnicodeDecodeError, nx.NetworkXError, ValueError, SyntaxError) as exc:  # ParseError is a SyntaxError
        raise ValueError(f"not a GraphML file ({exc}).") from None
    if not isinstance(flat, nx.DiGraph) or flat.graph.get("format") != FORMAT:
        raise ValueError(f"not a circuit wiring: a directed GraphML with graph attribute format={FORMAT!r} "
                         "(written by dump_wiring / csdm's save_wiring).")
    try:
        with np.load(io.BytesIO(npz), allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        nulls = json.loads(flat.graph.get("null_attributes", "[]"))
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"the wiring's .npz archive cannot be read ({exc}).") from None
    graph = nx.DiGraph()
    for node, attrs in flat.nodes(data=True):
        graph.add_node(node, **attrs)
    for u, v, attrs in flat.edges(data=True):
        graph.add_edge(u, v, **attrs)
    for key in [*arrays, *nulls]:
        kind, *owner, name = key.split(":")
        value = arrays.get(key)
        if kind == "node" and len(owner) == 1 and owner[0] in graph:
            graph.nodes[owner[0]][name] = value
        elif kind == "edge" and len(owner) == 2 and graph.has_edge(*owner):
            graph.edges[tuple(owner)][name] = value
        else:
            raise ValueError(f"the wiring's archive holds {key!r}, which names no population or projection of its "
                             "GraphML; the two files do not belong together.")
    return graph
