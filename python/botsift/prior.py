"""Prior correction for majority down-sampling and class weighting.

Every model is fitted with *balanced* sample weights that also undo the down-sampling within a
class: row ``i`` of class ``c`` gets ``(1 / r_i) / W_c`` (times a constant), where ``r_i`` is
its sampling rate and ``W_c = sum(1 / r_j for j in class c)`` estimates the population count of
class ``c``. Both classes then carry equal total weight, so the fitted model's prior odds are 1.
Bayes' rule turns its odds into population odds by multiplying with the population prior odds:

    odds_population = odds_model * W_1 / W_0

For the familiar case (no class weighting, negatives kept at a constant rate ``r``, positives at
rate 1) the same reasoning gives ``odds_model * r``; the factor here generalises it to per-row
rates and to the balanced weighting every base model shares. Because all base models share it,
one correction after the soft vote is enough: the deployed ONNX graph appends it as a few nodes
(see :mod:`botsift.export`), so scores out of the warehouse are population probabilities.
"""
from __future__ import annotations

import numpy as np

__all__ = ["balanced_sample_weight", "odds_factor", "correct_probability"]


def balanced_sample_weight(y: np.ndarray, sampling_rate: np.ndarray) -> np.ndarray:
    """Sample weights giving both classes equal total weight, undoing down-sampling inside each.

    Parameters
    ----------
    y : ndarray of int (0/1)
    sampling_rate : ndarray of float in (0, 1]

    Returns
    -------
    ndarray of float
        Weights that sum to ``len(y)``, half of it per class.
    """
    inv = 1.0 / np.asarray(sampling_rate, dtype=np.float64)
    w = np.empty_like(inv)
    n = len(y)
    for c in (0, 1):
        m = y == c
        total = inv[m].sum()
        w[m] = inv[m] / total * (n / 2.0) if total > 0 else 0.0
    return w


def odds_factor(y: np.ndarray, sampling_rate: np.ndarray) -> float:
    """Population prior odds of the positive class, ``W_1 / W_0``, from the training rows.

    Multiply a balanced-weight model's odds by this to get population odds.
    """
    inv = 1.0 / np.asarray(sampling_rate, dtype=np.float64)
    return float(inv[y == 1].sum() / inv[y == 0].sum())


def correct_probability(p: np.ndarray, factor: float) -> np.ndarray:
    """Rescale probabilities' odds by ``factor``: ``k p / (k p + 1 - p)``.

    Written without dividing by ``1 - p`` so that 0 and 1 map to themselves.
    """
    p = np.asarray(p, dtype=np.float64)
    num = factor * p
    return num / (num + (1.0 - p))
