"""Draw the cerebellar circuit graph (``bio.circuit_graph``) with cell counts on the nodes."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402

# Left to right: input, expansion layer and its interneuron, read-out and its teacher.
_LAYOUT = {"mossy": (0, 0), "granule": (1, 0), "golgi": (1, -1), "purkinje": (2, 0), "climbing": (2, -1)}


def draw_circuit(graph: nx.DiGraph, path: str | Path) -> None:
    """Save a diagram of ``graph``: populations with their sizes, projections with their rules."""
    pos = {n: _LAYOUT.get(n, (i, 1)) for i, n in enumerate(graph.nodes)}
    fig, ax = plt.subplots(figsize=(7, 4))
    labels = {n: f"{n}\n{d.get('size', '?')}" for n, d in graph.nodes(data=True)}
    inhibitory = [(u, v) for u, v in graph.edges if u == "golgi"]
    excitatory = [e for e in graph.edges if e not in inhibitory]
    nx.draw_networkx_nodes(graph, pos, ax=ax, node_size=2600, node_color="#dde8f5", edgecolors="#345")
    nx.draw_networkx_labels(graph, pos, labels, ax=ax, font_size=9)
    style = dict(ax=ax, node_size=2600, arrowsize=16, connectionstyle="arc3,rad=0.15")
    nx.draw_networkx_edges(graph, pos, edgelist=excitatory, edge_color="#2a6", **style)
    nx.draw_networkx_edges(graph, pos, edgelist=inhibitory, edge_color="#c33", arrowstyle="-[", **style)
    edge_labels = {}
    for u, v, d in graph.edges(data=True):
        rule = d.get("rule", "")
        edge_labels[(u, v)] = f"{rule} {d['param']}" if d.get("param") is not None else rule
    nx.draw_networkx_edge_labels(graph, pos, edge_labels, ax=ax, font_size=7, label_pos=0.35)
    ax.margins(0.15)
    ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
