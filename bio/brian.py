"""Brian2 code-generation settings, applied around each run and restored afterwards.

One thing is set on import: Ctrl-C. Brian2 installs a SIGINT handler when imported that turns
Ctrl-C during ``Network.run`` into a quiet early stop, so an interrupted presentation would end
early and its activity be learned from; and it calls the previous handler, which fails when that
is ``SIG_IGN`` (a process started with SIGINT ignored). The previous handler is put back and
Brian2's stop preference turned off: Ctrl-C interrupts with ``KeyboardInterrupt``, or is ignored
where the parent process asked for that.

The code-generation target is chosen per circuit. "numpy" and "cython" run in this process
(runtime device); "cpp_standalone" compiles the network into a C++ program that each batch of
presentations runs as a subprocess. Cython's module cache and the standalone projects
go to the project-local ``.brian_cache/`` folder.
"""

from __future__ import annotations

import gc
import os
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import brian2 as b2
import numpy as np
from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

CODEGEN_TARGETS = ("numpy", "cython", "cpp_standalone")
CACHE_DIR = Path(__file__).resolve().parents[1] / ".brian_cache"
STANDALONE_KEEP = 8  # compiled standalone projects kept (~10-70 MB each); older ones are deleted


def _restore_sigint() -> None:
    b2.prefs["core.stop_on_keyboard_interrupt"] = False
    handler = signal.getsignal(signal.SIGINT)
    previous = getattr(handler, "previous_handler", None)
    if previous is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, previous)


_restore_sigint()


@contextmanager
def codegen(target: str) -> Iterator[None]:
    """Run the enclosed Brian2 calls with ``prefs.codegen.target = target``; restore after."""
    keys = ("codegen.target", "codegen.runtime.cython.cache_dir")
    saved = {k: b2.prefs[k] for k in keys}
    b2.prefs["codegen.target"] = target
    if target == "cython":
        b2.prefs["codegen.runtime.cython.cache_dir"] = str(CACHE_DIR / "cython")
    try:
        yield
    finally:
        for k, v in saved.items():
            b2.prefs[k] = v


@contextmanager
def standalone_device(directory: Path) -> Iterator[CPPStandaloneDevice]:
    """Create the enclosed Brian2 objects on a new C++ standalone device (project ``directory``).

    The device is this block's own instance, so several compiled networks can live in one
    process; the previously active device is restored on exit, whatever happens inside.
    """
    device = CPPStandaloneDevice()
    previous = b2.get_device()
    b2.set_device(device, build_on_run=False, directory=str(directory))
    try:
        yield device
    finally:
        b2.set_device(previous)


def prune_projects(folder: Path, keep: int, current: Path) -> list[Path]:
    """Delete all but the ``keep`` most recently used project folders in ``folder``; return them.

    ``current`` (the project in use) counts as used now and is never deleted; "used" is the
    folder's modification time, which this call sets on ``current``.
    """
    if keep < 1:
        raise ValueError(f"keep must be >= 1; got {keep!r}.")
    os.utime(current)
    projects = sorted((d for d in folder.iterdir() if d.is_dir() and d != current),
                      key=lambda d: d.stat().st_mtime, reverse=True)
    stale = projects[keep - 1 :]
    for d in stale:
        shutil.rmtree(d, ignore_errors=True)
    return stale


@contextmanager
def frozen_gc() -> Iterator[None]:
    """Freeze the objects alive now out of the garbage collector's reach for the enclosed calls.

    ``Network.run`` starts with a full ``gc.collect()`` whose cost grows with every live object
    in the process (torch, scikit-learn, ...): about 0.1 s per call here, half the wall time of a
    50-presentation batch (cProfile). Frozen objects are skipped by that collection and handed
    back to the collector on exit, to its oldest generation: garbage made before a run (a dropped
    circuit's network, in reference cycles) waits there for a full collection, which
    :class:`bio.CerebellarCircuit` runs before it builds a network.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def block_synapses(mask: np.ndarray, n_copies: int, n_pre: int, n_post: int) -> tuple[np.ndarray, np.ndarray]:
    """Pre/post index arrays of ``mask`` (n_pre, n_post) repeated on the diagonal for ``n_copies``.

    Copy c uses pre cells c*n_pre ... and post cells c*n_post ...: independent circuits in one group.
    """
    pre, post = np.nonzero(mask)
    offsets = np.arange(n_copies)[:, None]
    return (pre + offsets * n_pre).ravel(), (post + offsets * n_post).ravel()
