"""Top-K fidelity: how well the set of granule cells that Golgi inhibition leaves active
matches the exact Top-K set of the SDMLP for the same weights and the same inputs.

Per input (row), with A the exact Top-K set (the k largest of drive = X_a^T x / ||x||) and
B the bio active set (activity above a stated threshold; spiking: at least one spike):

- Jaccard |A & B| / |A | B| (1 when both are empty)
- effective k = |B|
- precision |A & B| / |B| and recall |A & B| / |A| of B against A
- Spearman rank correlation of the surviving activities (Top-K activity [a - I]_+ vs bio
  activity) on the union A | B (NaN when the union has < 2 cells or one side is constant)
- read-out agreement: the two predicted classes are equal
- Jaccard at the own count: B against the exact Top-|B| set (picking the right cells, whatever their number), and
  the Pearson correlation over inputs of |B| with the input's mean drive (a count that follows the input)
"""

from __future__ import annotations

import numpy as np
from scipy.stats import pearsonr, spearmanr


def exact_topk_set(drive: np.ndarray, k: int) -> np.ndarray:
    """Boolean (batch, n_neurons): the k largest drives per row (ties broken by lower index)."""
    drive = np.asarray(drive)
    if not 1 <= k < drive.shape[1]:
        raise ValueError(f"k must be in [1, {drive.shape[1] - 1}] for {drive.shape[1]} neurons. Got {k}.")
    order = np.argsort(-drive, axis=1, kind="stable")[:, :k]
    mask = np.zeros(drive.shape, dtype=bool)
    np.put_along_axis(mask, order, True, axis=1)
    return mask


def set_metrics(topk_set: np.ndarray, bio_set: np.ndarray) -> dict[str, np.ndarray]:
    """Per-row Jaccard, precision, recall and effective k of two boolean (batch, n) sets."""
    a, b = np.asarray(topk_set, bool), np.asarray(bio_set, bool)
    if a.shape != b.shape:
        raise ValueError(f"the two sets differ in shape: {a.shape} vs {b.shape}.")
    inter = (a & b).sum(axis=1).astype(float)
    union = (a | b).sum(axis=1).astype(float)
    size_a, size_b = a.sum(axis=1).astype(float), b.sum(axis=1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "jaccard": np.where(union > 0, inter / union, 1.0),
            "precision": np.where(size_b > 0, inter / size_b, np.nan),
            "recall": np.where(size_a > 0, inter / size_a, np.nan),
            "effective_k": size_b,
        }


def own_count_jaccard(drive: np.ndarray, bio_set: np.ndarray) -> np.ndarray:
    """Per-row Jaccard of ``bio_set`` against the exact Top-k' set of the same row, k' the row's own count of
    active cells (NaN where no cell is active): how well the circuit picks its cells, whatever their number.
    Its gap to the Top-K Jaccard is what a count other than k costs."""
    drive, b = np.asarray(drive, dtype=np.float64), np.asarray(bio_set, bool)
    if drive.shape != b.shape:
        raise ValueError(f"'drive' and 'bio_set' differ in shape: {drive.shape} vs {b.shape}.")
    out = np.full(len(b), np.nan)
    for i, count in enumerate(b.sum(axis=1)):
        if count > 0:
            own = exact_topk_set(drive[i:i + 1], int(count)) if count < b.shape[1] else b[i:i + 1]  # all: itself
            out[i] = set_metrics(own, b[i:i + 1])["jaccard"][0]
    return out


def k_drive_pearson(effective_k: np.ndarray, drive: np.ndarray) -> float:
    """Pearson correlation over inputs of the effective k with the input's mean drive (NaN when either is
    constant). Top-K's k is independent of the input: a positive value is inhibition that follows the input's
    drive less than the k-th largest drive does."""
    k, mean_drive = np.asarray(effective_k, dtype=np.float64), np.asarray(drive, dtype=np.float64).mean(axis=1)
    if len(k) < 2 or np.ptp(k) == 0 or np.ptp(mean_drive) == 0:
        return float("nan")
    return float(pearsonr(k, mean_drive).statistic)


def union_spearman(topk_activity: np.ndarray, bio_activity: np.ndarray, union: np.ndarray) -> np.ndarray:
    """Per-row Spearman correlation of the two activities restricted to ``union`` (NaN if undefined)."""
    out = np.full(len(union), np.nan)
    for i, cells in enumerate(np.asarray(union, bool)):
        u, v = topk_activity[i, cells], bio_activity[i, cells]
        if cells.sum() >= 2 and np.ptp(u) > 0 and np.ptp(v) > 0:
            out[i] = spearmanr(u, v).statistic
    return out


def fidelity(
    drive: np.ndarray,
    topk_activity: np.ndarray,
    bio_activity: np.ndarray,
    k: int,
    active_threshold: float,
    topk_pred: np.ndarray,
    bio_pred: np.ndarray,
) -> dict[str, float]:
    """Aggregate fidelity record of one evaluation (means over inputs; NaN rows are skipped).

    Keys: ``jaccard_mean``, ``jaccard_sd``, ``effective_k_mean``, ``effective_k_sd``,
    ``effective_k_min``, ``effective_k_max``, ``precision_mean``, ``recall_mean``,
    ``silent_fraction`` (inputs with no active cell), ``spearman_mean``, ``readout_agreement``, ``n_inputs``,
    ``k``, ``active_threshold``; ``own_count_jaccard_mean`` (:func:`own_count_jaccard`, over inputs with an active
    cell) and ``k_drive_pearson`` (:func:`k_drive_pearson`) split the Jaccard's shortfall into picking and counting.
    """
    a = exact_topk_set(drive, k)
    b = np.asarray(bio_activity) > active_threshold
    m = set_metrics(a, b)
    rho = union_spearman(np.asarray(topk_activity), np.asarray(bio_activity), a | b)
    eff = m["effective_k"]
    return {
        "jaccard_mean": float(m["jaccard"].mean()), "jaccard_sd": float(m["jaccard"].std()),
        "effective_k_mean": float(eff.mean()), "effective_k_sd": float(eff.std()),
        "effective_k_min": float(eff.min()), "effective_k_max": float(eff.max()),
        "silent_fraction": float(np.mean(eff == 0)),
        "precision_mean": _nanmean(m["precision"]), "recall_mean": _nanmean(m["recall"]),
        "spearman_mean": _nanmean(rho),
        "own_count_jaccard_mean": _nanmean(own_count_jaccard(drive, b)),
        "k_drive_pearson": k_drive_pearson(eff, drive),
        "readout_agreement": float(np.mean(np.asarray(topk_pred) == np.asarray(bio_pred))),
        "n_inputs": int(len(a)), "k": int(k), "active_threshold": float(active_threshold),
    }


def mean_following_ceiling(drive: np.ndarray, k: int) -> float:
    """Mean Jaccard against Top-K of the threshold that follows each input's mean drive: the inhibition a Golgi
    pathway reading only the summed mossy input (feedforward) could apply, uniform over the granule cells.

    Per row the Top-K boundary is the midpoint of its k-th and (k+1)-th drives; a + b x (the row's mean drive) is
    fitted to the boundaries by least squares, and a row's active set is its cells with drive above the fitted
    threshold. A circuit whose Jaccard exceeds this needs inhibition that also follows what the mean misses (the
    spread of the drives, or the count of active cells: feedback). Needs at least 3 rows.
    """
    drive = np.asarray(drive, dtype=np.float64)
    if drive.ndim != 2 or len(drive) < 3:
        raise ValueError(f"'drive' must be (inputs >= 3, n_neurons) to fit a line through its rows. Got {drive.shape}.")
    top = exact_topk_set(drive, k)
    ordered = -np.sort(-drive, axis=1)
    boundary = (ordered[:, k - 1] + ordered[:, k]) / 2
    features = np.column_stack([np.ones(len(drive)), drive.mean(axis=1)])
    coef, *_ = np.linalg.lstsq(features, boundary, rcond=None)
    active = drive > (features @ coef)[:, None]
    return float(set_metrics(top, active)["jaccard"].mean())


def _nanmean(v: np.ndarray) -> float:
    v = v[np.isfinite(v)]
    return float(v.mean()) if len(v) else float("nan")
