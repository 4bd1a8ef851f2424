"""Rate mode implements Top-K on inputs unlike digits, through the Golgi feedback (Eq. 13 of Bricken et al.
2023, after Gozel & Gerstner 2021): adapt_circuit sets the circuit from the data, k stays an outcome."""

import numpy as np

import bio
from bridge.calibrate import adapt_circuit
from bridge.paired import measure_fidelity


def _mixed_mass(rng, rows, dim):
    """Non-negative rows of very different mass: 1 to dim active components, exponential values."""
    active = rng.integers(1, dim, rows)[:, None] > np.arange(dim)[None]
    x = rng.exponential(1.0, (rows, dim)) * active
    return x[:, rng.permutation(dim)]


def test_topk_on_mixed_mass_inputs_needs_the_golgi_feedback():
    """On 60 inputs whose mass spans 1..60 components, the adapted circuit keeps the exact Top-8 set
    (Jaccard >= 0.85, no silent input, k cv <= 0.2); with the Golgi feedback cut (gain ~0) the same circuit
    leaves several times k cells active."""
    rng = np.random.default_rng(3)
    x = _mixed_mass(rng, 60, 60)
    c = bio.CerebellarCircuit(60, 400, 2, seed=0)
    cal = adapt_circuit(c, x, 8)
    c.mature()
    fid = measure_fidelity(c, x, 8)
    print(cal.settings, fid["jaccard_mean"], fid["effective_k_mean"], fid["effective_k_sd"])
    assert fid["jaccard_mean"] >= 0.85
    assert fid["effective_k_min"] >= 1 and cal.silent_fraction == 0.0
    assert fid["effective_k_sd"] / fid["effective_k_mean"] <= 0.2
    c.golgi_gain = 1e-6  # feedback removed: only the threshold and the feedforward inhibition remain
    k_open = (c.hidden(x) > c.active_threshold).sum(axis=1)
    assert k_open.mean() > 3 * 8


def test_topk_needs_coupled_golgi_cells():
    """The same inputs through 4 Golgi cells that each reach 90 % of the granule cells: electrically coupled
    (``golgi_coupling=1``, every granule cell gets the same inhibition) the circuit keeps the Top-8 set
    (Jaccard 0.93 measured); uncoupled, each Golgi cell misses different winners and the inhibition differs
    across granule cells by more than the gap between the 8th and 9th drives (Jaccard 0.88 measured)."""
    x = _mixed_mass(np.random.default_rng(3), 60, 60)
    jaccard = {}
    for coupling in (1.0, 0.0):
        c = bio.CerebellarCircuit(60, 400, 2, seed=0, golgi_coupling=coupling)
        adapt_circuit(c, x, 8)
        c.mature()
        jaccard[coupling] = measure_fidelity(c, x, 8)["jaccard_mean"]
    assert jaccard[1.0] >= 0.9
    assert jaccard[0.0] <= jaccard[1.0] - 0.03
