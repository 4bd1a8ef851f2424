"""Draw the cerebellar circuit graph (``bio.circuit_graph``): populations with their roles and cell counts,
projections coloured by sign (excitatory, inhibitory, teaching) with their names and wiring rules, and a legend."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

# Left to right: input, expansion layer with its interneuron below, read-out with its teacher below.
_LAYOUT = {"mossy": (0.0, 0.0), "granule": (2.4, 0.0), "golgi": (2.4, -1.8), "purkinje": (4.8, 0.0),
           "climbing": (4.8, -1.8)}
_TITLES = {"mossy": "mossy fibers", "granule": "granule cells", "golgi": "Golgi cells", "purkinje": "Purkinje cells",
           "climbing": "climbing fibers"}
_HALF_W, _HALF_H = 0.62, 0.42  # node box half width and height, data units

KINDS = {  # projection kind -> (colour, line style, arrow style, legend text)
    "excitatory": ("#2a8a3e", "-", "-|>", "excitatory (glutamate)"),
    "inhibitory": ("#c0392b", "-", "-[", "inhibitory (GABA; depolarising while young, Eq. 12)"),
    "teaching": ("#7d3c98", "--", "-|>", "teaching (climbing fiber: teach)"),
}


def projection_kind(source: str) -> str:
    """Golgi projections inhibit, climbing fibers teach, everything else excites."""
    return "inhibitory" if source == "golgi" else "teaching" if source == "climbing" else "excitatory"


def edge_label(data: dict) -> str:
    """The projection's name (the shared vocabulary) and its wiring rule, e.g. 'address\\nall-to-all'."""
    rule, param = data.get("rule", ""), data.get("param")
    wiring = {"dense": "all-to-all", "one_to_one": "one-to-one"}.get(rule)
    if wiring is None:
        if rule == "probability" and param is not None:
            wiring = f"p = {param:g}"
        elif rule == "fixed_in_degree" and param is not None:
            wiring = f"{param} inputs per cell"
        else:
            wiring = f"{rule} {param}" if param is not None else rule
    name = data.get("name", "")
    return f"{name}\n{wiring}" if name else wiring


def _border(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The point where the segment from box centre p towards q leaves p's box."""
    d = q - p
    scale = min(_HALF_W / abs(d[0]) if d[0] else np.inf, _HALF_H / abs(d[1]) if d[1] else np.inf)
    return p + d * min(scale, 1.0)


def draw_circuit(graph: nx.DiGraph, path: str | Path) -> None:
    """Save a diagram of ``graph``: populations with their sizes, projections with their names and rules."""
    extra = [n for n in graph.nodes if n not in _LAYOUT]
    pos = {n: np.array(_LAYOUT.get(n, (2.4 * extra.index(n) if n in extra else 0.0, 1.8))) for n in graph.nodes}
    fig, ax = plt.subplots(figsize=(9, 5.2))
    for n, d in graph.nodes(data=True):
        x, y = pos[n]
        ax.add_patch(plt.Rectangle((x - _HALF_W, y - _HALF_H), 2 * _HALF_W, 2 * _HALF_H, facecolor="#dde8f5",
                                   edgecolor="#345", linewidth=1.2, zorder=2))
        size = d.get("size", "?")
        size = f"{size:,}" if isinstance(size, int) else size
        ax.text(x, y + 0.1, _TITLES.get(n, n), ha="center", va="center", fontsize=9.5, weight="bold", zorder=3)
        ax.text(x, y - 0.17, f"n = {size}", ha="center", va="center", fontsize=8.5, zorder=3)
    for u, v, d in graph.edges(data=True):
        kind = projection_kind(u)
        colour, style, arrow, _ = KINDS[kind]
        p, q = pos[u], pos[v]
        # a pair of opposite projections (granule <-> Golgi) bends apart; a single one stays straight
        rad = 0.35 if graph.has_edge(v, u) else 0.0
        a, b = _border(p, q), _border(q, p)
        if rad:  # leave and enter the boxes off-centre, on the side of the bend
            side = np.array([(b - a)[1], -(b - a)[0]]) / np.linalg.norm(b - a)
            a, b = a + 0.28 * side, b + 0.28 * side
        ax.annotate("", xy=b, xytext=a, zorder=1,
                    arrowprops=dict(arrowstyle=arrow, color=colour, linestyle=style, linewidth=1.8,
                                    mutation_scale=16, shrinkA=0, shrinkB=2, connectionstyle=f"arc3,rad={rad}"))
        mid, delta = (a + b) / 2, b - a
        bend = np.array([delta[1], -delta[0]])  # arc3's control point lies at mid + rad * bend
        normal = bend / np.linalg.norm(bend)
        label_at, align = mid + rad / 2 * bend + 0.32 * normal, "center"
        if not rad:  # a straight projection: label above it (horizontal) or to its right (otherwise)
            horizontal = abs(delta[1]) < 1e-9
            label_at = mid + (np.array([0.0, 0.22]) if horizontal else np.array([0.12, 0.0]))
            align = "center" if horizontal else "left"
        ax.text(*label_at, edge_label(d), ha=align, va="center", fontsize=8, color=colour, zorder=4,
                bbox=dict(boxstyle="round,pad=0.2", facecolor="white", edgecolor="none", alpha=0.9))
    handles = [Line2D([0], [0], color=c, linestyle=s, linewidth=1.8, label=text) for c, s, _, text in KINDS.values()]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=3, fontsize=8, frameon=False)
    xs, ys = np.array([p[0] for p in pos.values()]), np.array([p[1] for p in pos.values()])
    ax.set_xlim(xs.min() - 1.0, xs.max() + 1.0)
    ax.set_ylim(ys.min() - 0.8, ys.max() + 0.8)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title("Cerebellar circuit: populations and projections", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)
