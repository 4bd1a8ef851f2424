"""Brian2 helpers: the standalone project cache keeps only the most recently used projects."""

import os

import pytest

from bio.brian import prune_projects


def test_prune_keeps_the_most_recent_projects_and_the_current_one(tmp_path):
    folders = []
    for age, name in enumerate(["a", "b", "c", "d", "e"]):  # a is the newest, e the oldest
        d = tmp_path / name
        (d / "code").mkdir(parents=True)
        (d / "code" / "main.cpp").write_text("int main() {}")
        os.utime(d, (1e9 - age * 100, 1e9 - age * 100))
        folders.append(d)
    current = tmp_path / "e"  # the oldest, but in use now
    stale = prune_projects(tmp_path, keep=3, current=current)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "e"]
    assert sorted(p.name for p in stale) == ["c", "d"]
    assert current.stat().st_mtime > folders[0].stat().st_mtime  # marked as just used


def test_prune_refuses_keep_below_one(tmp_path):
    with pytest.raises(ValueError, match="keep"):
        prune_projects(tmp_path, keep=0, current=tmp_path)


def test_a_dropped_circuit_is_freed_before_the_next_network_is_built():
    """Each run freezes the live objects out of Brian2's collection (bio.brian.frozen_gc), so a circuit dropped
    earlier and held by garbage in reference cycles survives every later run: a map of many cells in one process
    grew by about a gigabyte per 1,000-cell spiking circuit until the system killed it. A new network collects
    that garbage first; automatic collection is off here, so only that collection can free the dropped circuit
    (without it the dropped network is still alive at the end)."""
    import gc
    import weakref

    import numpy as np

    from bio import CerebellarCircuit

    x = np.random.default_rng(0).random((4, 16))
    first = CerebellarCircuit(16, 40, 2, mode="spiking", seed=0, codegen_target="numpy", presentation_ms=20)
    first.hidden(x)
    dropped = weakref.ref(first._loop)
    enabled = gc.isenabled()
    gc.disable()
    try:
        del first
        CerebellarCircuit(16, 40, 2, mode="spiking", seed=1, codegen_target="numpy", presentation_ms=20).hidden(x)
        assert dropped() is None
    finally:
        if enabled:
            gc.enable()
