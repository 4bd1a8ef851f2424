"""The circuit's wiring as a ``networkx.DiGraph``: populations are nodes, projections are edges.

Nodes carry ``size`` (cells per circuit copy) and ``role``; edges carry the connection
``rule`` ("dense", "fixed_in_degree", "probability"), its parameter, a ``weight_init``
description and, for the granule<->Golgi loop, the sampled boolean ``mask``
(pre x post) from which the Brian2 synapses are built. The same graph draws the diagram
(``experiments/circuit_plot.py``).

Counts follow Fore et al. 2020 (4 mossy fibers per granule cell when ``sparse_dendrites``
is asked for) and App. C.1 of Bricken et al. 2023 (granule <-> Golgi present with
probability 0.9).
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from bio import _checks

POPULATIONS = ("mossy", "granule", "golgi", "purkinje", "climbing")


def circuit_graph(
    n_inputs: int,
    n_neurons: int,
    n_outputs: int,
    n_golgi: int = 4,
    p_golgi: float = 0.9,
    sparse_dendrites: int | None = None,
    seed: int = 0,
    mossy_golgi: bool = False,
    golgi_golgi: float = 0.0,
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
        mask = np.zeros((n_inputs, n_neurons), bool)
        for j in range(n_neurons):
            mask[rng.choice(n_inputs, sparse_dendrites, replace=False), j] = True
        g.add_edge(
            "mossy",
            "granule",
            rule="fixed_in_degree",
            param=sparse_dendrites,
            mask=mask,
            weight_init="uniform[0,1) on the mask, columns L2-normalised",
            name="address",
        )
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
    if mossy_golgi:
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
