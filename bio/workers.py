"""Simulation batches on several processes, one batched Brian2 loop per process.

Brian2's runtime targets simulate in a single thread. The simulation batches of one call are
independent presentations, so ``n_workers`` processes, each holding its own copy of the loop
(built when the worker starts; compiled Cython modules are shared through the project cache), run batches
side by side. The loop classes are the in-process ones, so every batch gives exactly what it
gives in one process. Workers are spawned (not forked): safe with torch's and OpenMP's threads.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

_LOOP: Any = None  # inside a worker: its copy of the loop, built when the worker starts
_BARRIER: Any = None  # inside a worker: the pool's start-up barrier


def _start(factory: Callable[..., Any], factory_args: tuple, warm_args: tuple, barrier: Any) -> None:
    global _LOOP, _BARRIER
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops the pool
    _LOOP = factory(*factory_args)
    _LOOP.run(*warm_args)  # the first simulation loads the generated code
    _BARRIER = barrier


def _ready() -> int:
    _BARRIER.wait()  # returns once every worker holds one of these tasks
    return os.getpid()


def _run(run_args: tuple) -> Any:
    return _LOOP.run(*run_args)


class LoopPool:
    """``n_workers`` processes that each build ``factory(*factory_args)`` and run ``warm_args`` once.

    The constructor returns when every worker has done so, so no start-up or first-run cost falls
    into a later ``map``; ``pids`` are the workers' process ids. ``map(batches)`` runs
    ``loop.run(*args)`` for every args tuple, in parallel, results in order. A rewired circuit
    closes its pool and starts a new one.
    """

    def __init__(self, n_workers: int, factory: Callable[..., Any], factory_args: tuple, warm_args: tuple,
                 target: str) -> None:
        self.target = target
        context = multiprocessing.get_context("spawn")
        self._executor = ProcessPoolExecutor(n_workers, mp_context=context, initializer=_start,
                                             initargs=(factory, factory_args, warm_args, context.Barrier(n_workers)))
        # Each submission finds no idle worker and spawns one; a worker blocked at the barrier
        # cannot take a second task, so all n_workers must have started for these to finish.
        self.pids = [future.result() for future in [self._executor.submit(_ready) for _ in range(n_workers)]]

    def map(self, batches: Iterable[tuple]) -> list[Any]:
        return list(self._executor.map(_run, batches))

    def close(self) -> None:
        """Stop the worker processes (also done when the pool is garbage-collected or at exit)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
