"""Circuit wiring on disk: a GraphML file (populations, projections, scalar attributes) and an ``.npz`` archive of
its arrays (masks, positions) beside it, same stem. The conversion is ``bio.wiring.dump_wiring`` /
``load_wiring``; this module only reads and writes the two files (atomically).

Export a circuit's wiring, edit or replace it, and run with it::

    from experiments.wiring_io import save_wiring, read_wiring
    save_wiring(CerebellarCircuit(64, 1000, 10, anatomy="dendrites4").graph, "my_wiring.graphml")
    CerebellarCircuit(64, 1000, 10, graph=read_wiring("my_wiring.graphml"))
    # or: csdm train --model bio-spiking --config run.toml   with  wiring = "my_wiring.graphml"
"""

from __future__ import annotations

import os
from pathlib import Path

import networkx as nx

from experiments.rundir import atomic_write


class WiringError(ValueError):
    """A wiring file cannot be used; the message names the file and the fix."""


def wiring_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """The GraphML file and its arrays: ``X.graphml`` and ``X.npz``."""
    path = Path(path)
    if path.suffix != ".graphml":
        raise WiringError(f"--wiring {path}: give the .graphml file (its arrays lie beside it as .npz).")
    return path, path.with_suffix(".npz")


def save_wiring(graph: nx.DiGraph, path: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``graph`` to ``path`` (.graphml) and its arrays beside it (.npz); return both paths."""
    from bio.wiring import dump_wiring

    graphml_path, npz_path = wiring_paths(path)
    graphml, npz = dump_wiring(graph)
    atomic_write(npz_path, lambda f: f.write(npz), mode="wb")  # arrays first: a GraphML file means both are whole
    atomic_write(graphml_path, lambda f: f.write(graphml), mode="wb")
    return graphml_path, npz_path


def read_wiring(path: str | os.PathLike) -> nx.DiGraph:
    """The circuit graph saved at ``path`` (.graphml, with its .npz); one-line :class:`WiringError` otherwise.
    ``CerebellarCircuit(..., graph=...)`` checks it against the circuit's sizes."""
    from bio.wiring import load_wiring

    graphml_path, npz_path = wiring_paths(path)
    for file in (graphml_path, npz_path):
        if not file.is_file():
            raise WiringError(f"--wiring {graphml_path}: {file} does not exist; write both files with "
                              "experiments.wiring_io.save_wiring.")
    try:
        return load_wiring(graphml_path.read_bytes(), npz_path.read_bytes())
    except ValueError as exc:
        raise WiringError(f"--wiring {graphml_path}: {exc}") from None
