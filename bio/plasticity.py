"""Local learning rules, computed in numpy from the activity the Brian2 simulation produced.

Both rules use only what the synapse can see: its presynaptic rate, its postsynaptic
activity and, at the Purkinje cell, the climbing-fiber signal. Weights stay >= 0 (Dale).
"""

from __future__ import annotations

import numpy as np

# Purkinje homeostatic scaling: the norm (numpy ``ord``) of each Purkinje cell's parallel-fiber weights
# that divides its summed input; "none" reads the weights as they are.
PURKINJE_NORMS = {"none": None, "l1": 1, "l2": 2}


def purkinje_weights(value: np.ndarray, norm: str = "none") -> np.ndarray:
    """Effective parallel fiber -> Purkinje weights, (n_neurons, n_outputs), that the Purkinje cells sum.

    "none": X_v, so the Purkinje rate is y = h X_v. "l1" / "l2": each column divided by its 1- or 2-norm
    (a cell with no weight yet reads 0), y_c = h . X_v[:, c] / ||X_v[:, c]||: multiplicative homeostatic
    scaling of each Purkinje cell's parallel-fiber synapses to a fixed total (synaptic scaling, Turrigiano
    et al. 1998, Nature 391:892), applied to what the cell reads so that the stored weights keep
    accumulating as the climbing-fiber rule sets them. With the "target" rule a Purkinje cell's weights
    sum the codes of its class, so without scaling a class whose inputs are many, or excite many granule
    cells, outvotes the others; with "l2" the read-out compares the code with each class's direction (a
    cosine up to the factor ||h||, which is common to all classes).
    """
    if norm not in PURKINJE_NORMS:
        raise ValueError(f"Purkinje norm must be one of {tuple(PURKINJE_NORMS)}; got {norm!r}.")
    if PURKINJE_NORMS[norm] is None:
        return value
    scale = np.linalg.norm(value, ord=PURKINJE_NORMS[norm], axis=0)
    return value / np.where(scale > 0, scale, 1.0)


# The climbing-fiber rules, their weight ceilings and initial weights. The error rule is self-limiting (it
# stops when the output reaches the target); the target rule only potentiates, so its synapses saturate at 1
# (as the FlyModel's weights, Shen et al. 2021). The LTD rule depresses and potentiates between 0 and 1 and
# starts half way, so that a synapse can be depressed before it was ever potentiated (a model choice: the
# bounds of a saturating synapse, Ito 2001, Physiol Rev 81:1143, Sec. V).
VALUE_CEILING = {"error": np.inf, "target": 1.0, "ltd": 1.0}
VALUE_INIT = {"error": 0.0, "target": 0.0, "ltd": 0.5}
VALUE_RULES = tuple(VALUE_CEILING)
# How each rule's class is read out. error, target: the most active Purkinje cell (its climbing fiber
# potentiated it for its class). ltd: the Purkinje cell that fires least, i.e. the deep cerebellar nuclear
# cell it inhibits least: LTD of the class's Purkinje cell disinhibits its nuclear cell, the cerebellar
# output (Ito 2001, Sec. II; Marr 1969 and Albus 1971 read the Purkinje pause the same way).
READOUT = {"error": "most active", "target": "most active", "ltd": "least active"}
# PF-alone LTP relative to CF-gated LTD per presentation (Marr-Albus-Ito rule). Coesmans et al. 2004
# (Neuron 44:691) and Jörntell & Hansel 2006 (Neuron 52:227) find both directions of similar relative size per
# induction protocol, with LTP needing many more PF-alone pairings; one PF-alone presentation potentiates
# a tenth of what one PF + CF presentation depresses (a model choice within that statement).
LTP_FRACTION = 0.1


def climbing_fibers(labels: np.ndarray, n_outputs: int) -> np.ndarray:
    """Which climbing fibers fire a complex spike in each presentation, (batch, n_outputs) bool: the
    labelled class's (the teaching signal of every rule selects it)."""
    fired = np.zeros((len(labels), n_outputs), bool)
    fired[np.arange(len(labels)), labels] = True
    return fired


def ltd_teach(complex_spikes: np.ndarray, ltp_fraction: float = LTP_FRACTION) -> np.ndarray:
    """The Marr-Albus-Ito plasticity signal per Purkinje cell, (batch, n_outputs): -1 where the cell
    received a complex spike (PF + CF: LTD; Ito 2001, Physiol Rev 81:1143; Coesmans et al. 2004, Neuron
    44:691), +ltp_fraction where it did not (PF alone: LTP, smaller; Coesmans et al. 2004, Jörntell & Hansel
    2006, Neuron 52:227). Only active parallel fibers change (:func:`value_update` multiplies by h)."""
    fired = np.asarray(complex_spikes, dtype=bool)
    return np.where(fired, -1.0, ltp_fraction)


def teach(labels: np.ndarray, purkinje_out: np.ndarray, rule: str = "error") -> np.ndarray:
    """Climbing-fiber signal, (batch, n_outputs).

    "error": one-hot target minus Purkinje output (the delta rule's error: LTP and LTD).
    "target": the one-hot target alone (only the labelled class's climbing fiber fires, and only
    its Purkinje cell's active parallel-fiber synapses are potentiated; the FlyModel's
    associative rule, Shen et al. 2021). Other classes' weights never change, so a task cannot
    lower what an earlier task stored; the weight ceiling of :func:`value_update` bounds growth.
    "ltd": the labelled class's climbing fiber fires a complex spike, and :func:`ltd_teach` turns it
    into CF-gated LTD at that cell and PF-alone LTP at the others; the output plays no part.
    """
    if rule not in VALUE_RULES:
        raise ValueError(f"value rule must be one of {VALUE_RULES}; got {rule!r}.")
    fired = climbing_fibers(labels, purkinje_out.shape[1])
    if rule == "ltd":
        return ltd_teach(fired)
    target = fired.astype(purkinje_out.dtype)
    return target - purkinje_out if rule == "error" else target


def value_update(
    value: np.ndarray, hidden: np.ndarray, teach_signal: np.ndarray, lr_value: float, ceiling: float = np.inf
) -> np.ndarray:
    """Climbing-fiber-gated parallel fiber -> Purkinje plasticity (normalised delta rule).

    dX_v = lr_value * mean_s [h_s^T teach_s / (||h_s||^2 + eps)], then clip to [0, ceiling]
    (a saturating synapse; the "target" rule of :func:`teach` needs a finite ceiling).
    A parallel fiber synapse changes only when its granule cell was active (h_j > 0), in the
    direction the climbing fiber signals (LTP where the target exceeds the output, LTD otherwise).
    Dividing by the summed squared parallel-fiber activity (heterosynaptic competition on the
    Purkinje dendrite) makes the step independent of how many granule cells are active: one
    update moves the Purkinje output a fraction lr_value of the way to the target, stable for
    0 < lr_value < 2 whether 10 (mature) or all (young, GABA excitatory) granule cells fire.
    """
    scale = 1.0 / (np.sum(hidden * hidden, axis=1, keepdims=True) + 1e-6)  # (batch, 1)
    dv = hidden.T @ (teach_signal * scale) / max(len(hidden), 1)  # (n_neurons, n_outputs)
    return np.clip(value + lr_value * dv, 0.0, ceiling).astype(np.float32)


def address_update(
    address: np.ndarray, x: np.ndarray, hidden: np.ndarray, lr_address: float, mask: np.ndarray
) -> np.ndarray:
    """Competitive Hebbian plasticity at mossy -> granule synapses with heterosynaptic normalisation.

    dX_a[i, j] = lr_address * x_i * h_j / batch (only cells that survived Golgi inhibition have
    h_j > 0 and learn), clip at 0, then each granule cell's address column is rescaled to unit
    L2 norm: the heterosynaptic counterpart of the SDMLP's weight normalisation (Sec. 4).
    Only synapses on the dendrite ``mask`` (n_inputs, n_neurons) exist and change.
    A column that is exactly zero (possible only on a sparse mask with zero input) stays zero.
    """
    a = np.maximum(
        address + lr_address * mask * (x.T @ hidden) / max(len(x), 1), 0.0
    )  # (n_inputs, n_neurons)
    norm = np.linalg.norm(a, axis=0, keepdims=True)
    return (a / np.where(norm > 0, norm, 1.0)).astype(np.float32)
