"""The local learning rules against hand-computed cases."""

import numpy as np
import pytest

from bio import plasticity


def test_teach_error_target_and_ltd_rules():
    out = np.array([[0.2, 0.5, 0.0], [0.1, 0.1, 0.9]])
    labels = np.array([1, 2])
    np.testing.assert_allclose(plasticity.teach(labels, out, "error"), [[-0.2, 0.5, 0.0], [-0.1, -0.1, 0.1]])
    np.testing.assert_allclose(plasticity.teach(labels, out, "target"), [[0, 1, 0], [0, 0, 1]])
    # ltd: the labelled class's climbing fiber (CF + PF: -1), the others PF alone (+LTP_FRACTION); output unused
    f = plasticity.LTP_FRACTION
    np.testing.assert_allclose(plasticity.teach(labels, out, "ltd"), [[f, -1, f], [f, f, -1]])
    with pytest.raises(ValueError, match="value rule"):
        plasticity.teach(labels, out, "hebb")


def test_value_update_hand_computed():
    """One sample, h = (1, 0, 1): ||h||^2 = 2, so dX_v = lr * h^T teach / 2 on the two active cells."""
    h = np.array([[1.0, 0.0, 1.0]])
    value = np.full((3, 2), 0.5, np.float32)
    teach = np.array([[1.0, -0.4]])
    new = plasticity.value_update(value, h, teach, lr_value=0.2)
    expected = np.array([[0.6, 0.46], [0.5, 0.5], [0.6, 0.46]])  # 0.5 + 0.2 * (1, -0.4) / 2 on rows 0, 2
    np.testing.assert_allclose(new, expected, rtol=1e-6)
    # the step moves the output y = h X_v a fraction lr of the way to the target (the normalisation)
    np.testing.assert_allclose(h @ new - h @ value, 0.2 * teach, rtol=1e-5)
    # clipping: at 0 below, at the ceiling above
    clipped = plasticity.value_update(value, h, np.array([[20.0, -20.0]]), lr_value=0.2, ceiling=1.0)
    np.testing.assert_allclose(clipped[[0, 2]], [[1.0, 0.0], [1.0, 0.0]])


def test_target_rule_never_lowers_other_classes():
    """With teach = target, a sample of class 1 changes column 1 only, and only upward."""
    rng = np.random.default_rng(0)
    value = rng.random((20, 3)).astype(np.float32)
    h = rng.random((8, 20)) * (rng.random((8, 20)) < 0.3)
    labels = np.ones(8, dtype=int)
    teach = plasticity.teach(labels, h @ value, "target")
    new = plasticity.value_update(value, h, teach, 0.5, plasticity.VALUE_CEILING["target"])
    np.testing.assert_array_equal(new[:, [0, 2]], value[:, [0, 2]])
    assert (new[:, 1] >= value[:, 1]).all() and (new[:, 1] > value[:, 1]).any() and new.max() <= 1.0


def test_address_update_hand_computed():
    """dX_a = lr x^T h / batch on the dendrite mask, clip at 0, then unit L2 columns."""
    address = np.array([[0.6, 0.0], [0.8, 1.0]], np.float32)  # unit columns
    x = np.array([[1.0, 0.0]])
    h = np.array([[0.5, 0.0]])  # only cell 0 survived inhibition
    mask = np.ones((2, 2))
    new = plasticity.address_update(address, x, h, lr_address=0.8, mask=mask)
    col = np.array([0.6 + 0.8 * 0.5, 0.8])  # (1.0, 0.8), then normalised
    np.testing.assert_allclose(new[:, 0], col / np.linalg.norm(col), rtol=1e-6)
    np.testing.assert_allclose(new[:, 1], address[:, 1])  # silent cell: unchanged
    off_mask = plasticity.address_update(address, x, h, 0.8, mask=np.array([[0.0, 1.0], [1.0, 1.0]]))
    np.testing.assert_allclose(off_mask, address, rtol=1e-6)  # the only synapse that would change is absent


def test_purkinje_norms_hand_computed():
    """Columns (3, 4) and (1, 0): 2-norms 5 and 1, 1-norms 7 and 1; h = (1, 1) sums them to (7, 1)."""
    value = np.array([[3.0, 1.0, 0.0], [4.0, 0.0, 0.0]])  # the third Purkinje cell has no weight yet
    h = np.array([[1.0, 1.0]])
    np.testing.assert_allclose(h @ plasticity.purkinje_weights(value), [[7.0, 1.0, 0.0]])
    np.testing.assert_allclose(h @ plasticity.purkinje_weights(value, "l2"), [[7.0 / 5.0, 1.0, 0.0]])
    np.testing.assert_allclose(h @ plasticity.purkinje_weights(value, "l1"), [[1.0, 1.0, 0.0]])
    with pytest.raises(ValueError, match="Purkinje norm"):
        plasticity.purkinje_weights(value, "l3")


def test_ltd_rule_sign_and_size_hand_computed():
    """Marr-Albus-Ito: h = (1, 0, 1), ||h||^2 = 2, lr 0.2, weights 0.5. Purkinje cell 0 gets a complex spike:
    its active synapses (rows 0, 2) fall by 0.2 * 1 / 2 = 0.1 (CF + PF: LTD); cell 1 gets none: they rise
    by 0.2 * LTP_FRACTION / 2 (PF alone: LTP, smaller); the silent fiber (row 1) changes on neither (neither)."""
    h = np.array([[1.0, 0.0, 1.0]])
    value = np.full((3, 2), 0.5, np.float32)
    spikes = np.array([[True, False]])
    teach = plasticity.ltd_teach(spikes)
    np.testing.assert_allclose(teach, [[-1.0, plasticity.LTP_FRACTION]])
    new = plasticity.value_update(value, h, teach, 0.2, plasticity.VALUE_CEILING["ltd"])
    up = 0.5 + 0.2 * plasticity.LTP_FRACTION / 2
    np.testing.assert_allclose(new, [[0.4, up], [0.5, 0.5], [0.4, up]], rtol=1e-6)
    assert plasticity.LTP_FRACTION < 1  # PF-alone LTP is the smaller change
    # no climbing fiber and no parallel-fiber activity: nothing changes
    none = plasticity.value_update(value, np.zeros((1, 3)), plasticity.ltd_teach(np.zeros((1, 2), bool)), 0.2, 1.0)
    np.testing.assert_array_equal(none, value)
    # bounds: depression stops at 0, potentiation at the ceiling 1
    bounded = plasticity.value_update(value, h, plasticity.ltd_teach(spikes, ltp_fraction=20.0) * 10, 0.2, 1.0)
    np.testing.assert_allclose(bounded[[0, 2]], [[0.0, 1.0], [0.0, 1.0]])
    assert plasticity.VALUE_INIT["ltd"] == 0.5 and plasticity.READOUT["ltd"] == "least active"
