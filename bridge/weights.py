"""``SDMWeights``: the two weight matrices the SDMLP and the cerebellar circuit share.

| paper | code      | shape                  | cerebellum                         |
|-------|-----------|------------------------|------------------------------------|
| X_a   | `address` | (n_inputs, n_neurons)  | mossy fiber -> granule synapses    |
| X_v   | `value`   | (n_neurons, n_outputs) | parallel fiber -> Purkinje synapses|
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SDMWeights:
    """Validated, read-only pair of float32 weight matrices.

    Parameters
    ----------
    address : array (n_inputs, n_neurons), one column per neuron (X_a).
    value : array (n_neurons, n_outputs) (X_v).
    allow_negative : SDM's weights are >= 0 (Dale's law in the circuit); set True only
        for the "negative weights" ablation.
    """

    address: np.ndarray
    value: np.ndarray
    allow_negative: bool = False

    def __post_init__(self) -> None:
        for name in ("address", "value"):
            arr = np.asarray(getattr(self, name))
            if arr.ndim != 2:
                raise ValueError(f"SDMWeights.{name} must be 2-D, got shape {arr.shape}.")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"SDMWeights.{name} contains NaN or inf.")
            if not self.allow_negative and (arr < 0).any():
                raise ValueError(
                    f"SDMWeights.{name} has negative entries (min {arr.min():.3g}); SDM weights are >= 0. "
                    "Pass allow_negative=True for the negative-weights ablation."
                )
            arr = np.array(arr, dtype=np.float32, copy=True)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        if self.address.shape[1] != self.value.shape[0]:
            raise ValueError(
                f"address has {self.address.shape[1]} neurons (columns) but value has "
                f"{self.value.shape[0]} rows; both must equal n_neurons."
            )

    @property
    def n_inputs(self) -> int:
        return self.address.shape[0]

    @property
    def n_neurons(self) -> int:
        return self.address.shape[1]

    @property
    def n_outputs(self) -> int:
        return self.value.shape[1]

    @classmethod
    def from_mapping(cls, weights: Mapping[str, np.ndarray], allow_negative: bool = False) -> SDMWeights:
        missing = {"address", "value"} - set(weights)
        if missing:
            raise KeyError(f"weights mapping lacks {sorted(missing)}; expected keys 'address' and 'value'.")
        return cls(weights["address"], weights["value"], allow_negative)

    def to_mapping(self) -> dict[str, np.ndarray]:
        return {"address": self.address.copy(), "value": self.value.copy()}
