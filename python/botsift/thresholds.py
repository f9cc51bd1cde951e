"""Decision thresholds chosen on validation: an action threshold and a review threshold.

* action: the lowest threshold whose (population-weighted) precision is at least the target,
  among thresholds that flag at least ``min_alerts`` rows (so one lucky top row cannot set it);
* review: the highest threshold whose recall is at least the target.

A row is flagged when ``score >= threshold``. When the precision target cannot be met, the
action threshold falls back to the most precise eligible threshold and the choice says so.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from botsift.errors import BotsiftError

__all__ = ["Thresholds", "check_targets", "select_thresholds", "precision_recall_at"]


@dataclass
class Thresholds:
    """Chosen thresholds with what they achieve on the rows they were chosen on."""

    action: float
    review: float
    precision_target: float
    recall_target: float
    precision_target_met: bool
    recall_target_met: bool
    action_precision: float
    action_recall: float
    review_precision: float
    review_recall: float
    rule: str = ("action: lowest score with weighted precision >= target among thresholds "
                 "flagging >= min_alerts rows; review: highest score with recall >= target; "
                 "flag when score >= threshold")
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready view (for the model card)."""
        return asdict(self)


def _curve(y: np.ndarray, scores: np.ndarray, weight: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per distinct score (descending): threshold, precision, recall, unweighted flagged count."""
    order = np.argsort(-scores, kind="mergesort")
    s, yy, w = scores[order], y[order], weight[order]
    last = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]  # last index of each distinct value
    tp = np.cumsum(yy * w)[last]
    fp = np.cumsum((1 - yy) * w)[last]
    precision = tp / np.maximum(tp + fp, np.finfo(float).tiny)
    recall = tp / tp[-1]
    return s[last], precision, recall, last + 1


def precision_recall_at(y: np.ndarray, scores: np.ndarray, threshold: float,
                        weight: np.ndarray | None = None) -> tuple[float, float]:
    """Weighted precision and recall of ``scores >= threshold``."""
    w = np.ones(len(y)) if weight is None else np.asarray(weight, np.float64)
    flag = scores >= threshold
    tp = float((w * (flag & (y == 1))).sum())
    fp = float((w * (flag & (y == 0))).sum())
    pos = float((w * (y == 1)).sum())
    return (tp / (tp + fp) if tp + fp > 0 else 0.0), (tp / pos if pos > 0 else 0.0)


def check_targets(precision_target: float, recall_target: float) -> None:
    """Raise :class:`BotsiftError` unless both targets are in (0, 1]."""
    for name, t in (("precision", precision_target), ("recall", recall_target)):
        if not 0 < t <= 1:
            raise BotsiftError(f"{name} target {t} must be in (0, 1]")


def select_thresholds(y: np.ndarray, scores: np.ndarray, *, weight: np.ndarray | None = None,
                      precision_target: float = 0.95, recall_target: float = 0.90,
                      min_alerts: int = 10) -> Thresholds:
    """Choose action and review thresholds on validation scores.

    Parameters
    ----------
    y : ndarray of 0/1
    scores : ndarray of float
    weight : ndarray, optional
        Row weights (inverse sampling rates) so precision estimates the population's.
    precision_target, recall_target : float
    min_alerts : int
        An action threshold must flag at least this many rows.

    Returns
    -------
    Thresholds

    Raises
    ------
    BotsiftError
        If there are no positive rows, or the targets are outside (0, 1].
    """
    y = np.asarray(y).astype(np.int64)
    scores = np.asarray(scores, np.float64)
    w = np.ones(len(y)) if weight is None else np.asarray(weight, np.float64)
    check_targets(precision_target, recall_target)
    if y.sum() == 0:
        raise BotsiftError("cannot choose thresholds: the validation rows hold no positives")
    thr, prec, rec, flagged = _curve(y, scores, w)
    notes: list[str] = []

    eligible = flagged >= min(min_alerts, len(y))
    ok = eligible & (prec >= precision_target)
    if ok.any():
        i = int(np.nonzero(ok)[0][-1])  # descending thresholds: the last ok one is the lowest
        action, met = float(thr[i]), True
    else:
        cand = np.nonzero(eligible)[0]
        i = int(cand[np.argmax(prec[cand])])  # argmax: the highest of equally precise ones
        action, met = float(thr[i]), False
        notes.append(
            f"precision target {precision_target:.3f} is unreachable on validation (best "
            f"{prec[i]:.3f} flagging >= {min_alerts} rows): action threshold falls back to the "
            "most precise threshold; do not auto-action on it without review")

    j = int(np.nonzero(rec >= recall_target - 1e-12)[0][0])  # first (highest) reaching target
    review = float(thr[j])
    if review > action:
        notes.append(f"review threshold {review:.6f} lay above the action threshold: set to the "
                     "action threshold (empty review band)")
        review = action
    ap, ar = precision_recall_at(y, scores, action, w)
    rp, rr = precision_recall_at(y, scores, review, w)
    return Thresholds(action=action, review=review, precision_target=precision_target,
                      recall_target=recall_target, precision_target_met=met,
                      recall_target_met=bool(rr >= recall_target - 1e-12),
                      action_precision=ap, action_recall=ar, review_precision=rp,
                      review_recall=rr, notes=notes)
