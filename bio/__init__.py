"""The Brian2 cerebellar circuit (mossy fibers, granule cells, Golgi, Purkinje, climbing fibers)."""

from bio.circuit import CerebellarCircuit
from bio.wiring import circuit_graph

__all__ = ["CerebellarCircuit", "circuit_graph"]
