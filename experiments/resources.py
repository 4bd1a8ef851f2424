"""Refuse, before allocating, a model that cannot fit in this machine's memory."""

from __future__ import annotations

from pathlib import Path

# float32 copies of the weights a learner holds at once: the weights, their gradients, two optimiser
# moments, a regulariser's anchor and importance, and the circuit's float64 address and dendrite mask
WEIGHT_COPIES = 8


def available_bytes() -> int | None:
    """Memory available to a new allocation (``MemAvailable`` of /proc/meminfo), or None where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_model_memory(n_inputs: int, n_neurons: int, n_outputs: int, n_models: int = 1) -> None:
    """Raise ``ValueError`` naming ``--n-neurons`` when the weights of ``n_models`` learners of this size
    (x ``WEIGHT_COPIES``) exceed the memory available now."""
    need = 4 * WEIGHT_COPIES * (n_inputs + n_outputs) * n_neurons * n_models
    have = available_bytes()
    if have is not None and need > have:
        raise ValueError(f"--n-neurons {n_neurons} with {n_inputs} inputs needs about {need / 2**30:.1f} GiB "
                         f"(weights, gradients and optimiser state of {n_models} model(s)), "
                         f"more than the {have / 2**30:.1f} GiB available; lower --n-neurons.")
