"""Input validation with one error template: what was expected, what came, a hint.

Every check raises ``ValueError`` naming the parameter, where the value enters the package.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def count(name: str, value: int, low: int = 1, owner: str = "CerebellarCircuit") -> int:
    """Return ``value`` as int if it is an integer >= ``low``, else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"The '{name}' parameter of {owner} must be an int >= {low}. Got {value!r}.")
    return int(value)


def fraction(name: str, value: float, owner: str = "CerebellarCircuit") -> float:
    """Return ``value`` as float if it lies in (0, 1], else raise naming ``name``."""
    if not np.isfinite(value) or not 0 < value <= 1:
        raise ValueError(f"The '{name}' parameter of {owner} must be in (0, 1]. Got {value!r}.")
    return float(value)


def choice(name: str, value: str, options: tuple[str, ...], owner: str = "CerebellarCircuit") -> str:
    """Return ``value`` if it is one of ``options``, else raise naming ``name``."""
    if value not in options:
        raise ValueError(f"The '{name}' parameter of {owner} must be one of {options}. Got {value!r}.")
    return value


def rates(x: np.ndarray, n_inputs: int) -> np.ndarray:
    """Validate mossy-fiber input ``x`` (batch, n_inputs), finite and >= 0; return float32 copy."""
    arr = np.asarray(x)
    if arr.ndim != 2 or arr.shape[1] != n_inputs:
        raise ValueError(
            f"x must have shape (batch, {n_inputs}) (samples in rows, one column per mossy fiber). "
            f"Got shape {arr.shape}; reshape images to rows, e.g. x.reshape(len(x), -1)."
        )
    arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)):
        raise ValueError("x contains NaN or inf; mossy-fiber rates must be finite.")
    if (arr < 0).any():
        raise ValueError(
            f"x has negative entries (min {arr.min():.3g}); mossy-fiber rates are >= 0. "
            "Shift or rectify the input first (e.g. np.maximum(x, 0))."
        )
    return arr


def labels(y: np.ndarray, n_rows: int, n_outputs: int) -> np.ndarray:
    """Validate integer class labels ``y`` (n_rows,) in [0, n_outputs); return int64 copy."""
    arr = np.asarray(y)
    if arr.shape != (n_rows,) or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"y must be integer labels of shape ({n_rows},). Got dtype {arr.dtype}, shape {arr.shape}."
        )
    if n_rows and (arr.min() < 0 or arr.max() >= n_outputs):
        raise ValueError(
            f"y must lie in [0, {n_outputs}) (one Purkinje cell per class). Got [{arr.min()}, {arr.max()}]."
        )
    return arr.astype(np.int64)


def weights(mapping: Mapping[str, np.ndarray], n_inputs: int, n_neurons: int, n_outputs: int) -> dict:
    """Validate a ``{"address", "value"}`` mapping: shapes, finite, >= 0 (Dale). Return float32 copies."""
    missing = {"address", "value"} - set(mapping)
    if missing:
        raise ValueError(f"weights lack {sorted(missing)}; expected keys 'address' and 'value'.")
    shapes = {"address": (n_inputs, n_neurons), "value": (n_neurons, n_outputs)}
    out = {}
    for name, shape in shapes.items():
        arr = np.asarray(mapping[name], dtype=np.float32)
        if arr.shape != shape:
            raise ValueError(f"weights['{name}'] must have shape {shape}. Got {arr.shape}.")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"weights['{name}'] contains NaN or inf.")
        if (arr < 0).any():
            raise ValueError(
                f"weights['{name}'] has negative entries (min {arr.min():.3g}); synapses here are "
                "excitatory (Dale's law), so weights must be >= 0. Clip with np.maximum(w, 0)."
            )
        out[name] = arr.copy()
    return out
