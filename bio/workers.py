"""Simulation batches on several processes, one batched Brian2 loop per process.

Brian2's runtime targets simulate in a single thread. The simulation batches of one call are
independent presentations, so ``n_workers`` processes, each holding its own copy of the loop
(built when the worker starts; compiled Cython modules are shared through the project cache), run batches
side by side. The loop classes are the in-process ones, so every batch gives exactly what it
gives in one process. Workers are spawned (not forked): safe with torch's and OpenMP's threads.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

_LOOP: Any = None  # inside a worker: its copy of the loop, built when the worker starts


def _start(factory: Callable[..., Any], factory_args: tuple) -> None:
    global _LOOP
    _LOOP = factory(*factory_args)


def _run(run_args: tuple) -> Any:
    return _LOOP.run(*run_args)


class LoopPool:
    """``n_workers`` processes that each build ``factory(*factory_args)`` once, at start-up.

    ``map(batches)`` runs ``loop.run(*args)`` for every args tuple, in parallel, results in order.
    A rewired circuit closes its pool and starts a new one.
    """

    def __init__(self, n_workers: int, factory: Callable[..., Any], factory_args: tuple, target: str) -> None:
        self.target = target
        self._executor = ProcessPoolExecutor(n_workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_start, initargs=(factory, factory_args))

    def map(self, batches: Iterable[tuple]) -> list[Any]:
        return list(self._executor.map(_run, batches))

    def close(self) -> None:
        """Stop the worker processes (also done when the pool is garbage-collected or at exit)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
