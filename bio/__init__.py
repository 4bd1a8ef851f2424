"""The Brian2 cerebellar circuit (mossy fibers, granule cells, Golgi, Purkinje, climbing fibers)."""

import bio.brian  # noqa: F401  (first: restores the SIGINT handler that importing Brian2 replaces)
from bio.circuit import CerebellarCircuit
from bio.wiring import circuit_graph

__all__ = ["CerebellarCircuit", "circuit_graph"]
