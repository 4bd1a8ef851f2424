"""Simulation batches on several processes, one batched Brian2 loop per process.

Brian2's runtime targets simulate in a single thread. The simulation batches of one call are
independent presentations, so ``n_workers`` processes, each holding its own copy of the loop
(built on first use; compiled Cython modules are shared through the project cache), run batches
side by side. The loop classes are the in-process ones, so every batch gives exactly what it
gives in one process. Workers are spawned (not forked): safe with torch's and OpenMP's threads.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

_LOOPS: dict[int, Any] = {}  # inside a worker: the loop of each pool generation, built on first use


def _run(generation: int, factory: Callable[..., Any], factory_args: tuple, run_args: tuple) -> Any:
    if generation not in _LOOPS:
        _LOOPS.clear()  # a newer loop replaces the old one (the circuit was rewired)
        _LOOPS[generation] = factory(*factory_args)
    return _LOOPS[generation].run(*run_args)


class LoopPool:
    """``n_workers`` processes that each build ``factory(*factory_args)`` and call its ``run``.

    ``map(batches)`` runs ``loop.run(*args)`` for every args tuple, in parallel, results in order.
    """

    _generation = 0

    def __init__(self, n_workers: int, factory: Callable[..., Any], factory_args: tuple, target: str) -> None:
        self.target = target
        self._factory, self._factory_args = factory, factory_args
        LoopPool._generation += 1
        self._key = LoopPool._generation
        self._executor = ProcessPoolExecutor(n_workers, mp_context=multiprocessing.get_context("spawn"))

    def map(self, batches: Iterable[tuple]) -> list[Any]:
        futures = [self._executor.submit(_run, self._key, self._factory, self._factory_args, args) for args in batches]
        return [f.result() for f in futures]

    def close(self) -> None:
        """Stop the worker processes (also done when the pool is garbage-collected or at exit)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
