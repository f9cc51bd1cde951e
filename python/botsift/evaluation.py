"""Model evaluation for BI: long-format metrics and reliability bins, written to the warehouse.

Rows are weighted by the inverse sampling rate, so precision, PR AUC, ROC AUC, Brier and the
reliability bins estimate population figures even when negatives were down-sampled. The
confusion counts (``tp``, ``fp``, ``fn``, ``tn``) are raw row counts; ``*_weighted`` counts are
the population estimates.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from botsift.project import connect_warehouse

__all__ = ["EVALUATION_TABLE", "CALIBRATION_TABLE", "weighted_average_precision",
           "bootstrap_pr_auc", "metric_rows", "calibration_rows", "write_evaluation"]

EVALUATION_TABLE = "marts.ml_model_evaluation"
CALIBRATION_TABLE = "marts.ml_model_calibration"

_EVAL_COLUMNS = ["model_version", "model_segment", "model_name", "split", "segment_type",
                 "segment_value", "metric", "value"]
_CAL_COLUMNS = ["model_version", "model_segment", "model_name", "split", "segment_type",
                "segment_value", "bin_index", "bin_lower", "bin_upper", "n_rows",
                "weight_sum", "mean_predicted", "observed_rate"]


def _sorted_ap(y: np.ndarray, w: np.ndarray, last: np.ndarray) -> float:
    tp = np.cumsum(y * w)[last]
    fp = np.cumsum((1 - y) * w)[last]
    if tp[-1] <= 0:
        return float("nan")
    prec = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
    rec = tp / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, rec]) * prec))


def weighted_average_precision(y: np.ndarray, scores: np.ndarray,
                               weight: np.ndarray | None = None) -> float:
    """Average precision (step-wise PR AUC, as scikit-learn defines it) with row weights."""
    w = np.ones(len(y)) if weight is None else np.asarray(weight, np.float64)
    order = np.argsort(-np.asarray(scores, np.float64), kind="mergesort")
    s = np.asarray(scores, np.float64)[order]
    last = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]
    return _sorted_ap(np.asarray(y, np.float64)[order], w[order], last)


def bootstrap_pr_auc(y: np.ndarray, scores: np.ndarray, weight: np.ndarray, groups: np.ndarray,
                     *, n_resamples: int = 500, seed: int = 0,
                     level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of PR AUC, resampling whole groups (botnets) at once.

    Returns
    -------
    (low, high)
        NaN, NaN when the rows hold no positive (a region's test slice can): PR AUC is
        undefined there, as :func:`weighted_average_precision` says.
    """
    if not (np.asarray(y) == 1).any():
        return float("nan"), float("nan")
    s = np.asarray(scores, np.float64)
    order = np.argsort(-s, kind="mergesort")
    ss, yy, ww = s[order], np.asarray(y, np.float64)[order], np.asarray(weight, np.float64)[order]
    last = np.r_[np.nonzero(np.diff(ss))[0], ss.size - 1]
    _, inv = np.unique(np.asarray(groups)[order], return_inverse=True)
    n_groups = int(inv.max()) + 1
    rng = np.random.default_rng(seed)
    stats = np.empty(n_resamples)
    for b in range(n_resamples):
        mult = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)[inv]
        stats[b] = _sorted_ap(yy, ww * mult, last)
    stats = stats[~np.isnan(stats)]
    a = (1 - level) / 2
    return float(np.quantile(stats, a)), float(np.quantile(stats, 1 - a))


def _confusion(y: np.ndarray, s: np.ndarray, w: np.ndarray, t: float) -> dict[str, float]:
    flag = s >= t
    pos = y == 1
    out: dict[str, float] = {}
    for name, m in (("tp", flag & pos), ("fp", flag & ~pos), ("fn", ~flag & pos),
                    ("tn", ~flag & ~pos)):
        out[name] = float(m.sum())
        out[f"{name}_weighted"] = float(w[m].sum())
    tp, fp, fn = out["tp_weighted"], out["fp_weighted"], out["fn_weighted"]
    prec = tp / (tp + fp) if tp + fp > 0 else float("nan")
    rec = tp / (tp + fn) if tp + fn > 0 else float("nan")
    out["precision"] = prec
    out["recall"] = rec
    out["f1"] = (2 * prec * rec / (prec + rec)
                 if prec == prec and rec == rec and prec + rec > 0 else float("nan"))
    out["flag_rate"] = float(w[flag].sum() / w.sum())
    return out


def segment_metrics(y: np.ndarray, s: np.ndarray, w: np.ndarray,
                    thresholds: Mapping[str, float]) -> dict[str, float]:
    """Every metric of one slice: counts, threshold metrics, ROC AUC, PR AUC, Brier."""
    out: dict[str, float] = {"n_rows": float(len(y)), "n_positives": float(y.sum()),
                             "positive_rate_weighted": float(w[y == 1].sum() / w.sum())}
    if 0 < y.sum() < len(y):
        out["roc_auc"] = float(roc_auc_score(y, s, sample_weight=w))
        out["pr_auc"] = weighted_average_precision(y, s, w)
    out["brier"] = float(np.sum(w * (s - y) ** 2) / w.sum())
    for name, t in thresholds.items():
        out[f"threshold_{name}"] = float(t)
        for k, v in _confusion(y, s, w, t).items():
            out[f"{k}_at_{name}"] = v
    return out


def metric_rows(*, model_version: str, model_segment: str, model_name: str, split: str,
                y: np.ndarray, scores: np.ndarray, weight: np.ndarray,
                segments: Mapping[str, np.ndarray], thresholds: Mapping[str, float],
                extra: Mapping[str, float] | None = None) -> list[tuple]:
    """Long-format metric rows: overall, then per value of each segment column.

    ``extra`` metrics (for example the bootstrap interval) are added to the overall slice.
    """
    rows: list[tuple] = []
    key = (model_version, model_segment, model_name, split)

    def add(seg_type: str, seg_value: str, mets: Mapping[str, float]) -> None:
        for m, v in mets.items():
            if v is not None and not (isinstance(v, float) and math.isnan(v)):
                rows.append((*key, seg_type, seg_value, m, float(v)))

    add("overall", "all", {**segment_metrics(y, scores, weight, thresholds), **(extra or {})})
    for col, vals in segments.items():
        for v in sorted(set(vals.tolist())):
            m = vals == v
            add(col, v, segment_metrics(y[m], scores[m], weight[m], thresholds))
    return rows


def calibration_rows(*, model_version: str, model_segment: str, model_name: str, split: str,
                     y: np.ndarray, scores: np.ndarray, weight: np.ndarray,
                     segments: Mapping[str, np.ndarray] | None = None,
                     n_bins: int = 10) -> list[tuple]:
    """Reliability bins (equal width on [0, 1]): weighted mean score vs observed bot rate."""
    rows: list[tuple] = []
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    slices: list[tuple[str, str, np.ndarray]] = [("overall", "all", np.ones(len(y), bool))]
    for col, vals in (segments or {}).items():
        slices += [(col, v, vals == v) for v in sorted(set(vals.tolist()))]
    for seg_type, seg_value, m in slices:
        s, yy, w = scores[m], y[m], weight[m]
        idx = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, n_bins - 1)
        for b in range(n_bins):
            inb = idx == b
            if not inb.any():
                continue
            ws = float(w[inb].sum())
            rows.append((model_version, model_segment, model_name, split, seg_type, seg_value,
                         b, float(edges[b]), float(edges[b + 1]), int(inb.sum()), ws,
                         float((w[inb] * s[inb]).sum() / ws),
                         float((w[inb] * yy[inb]).sum() / ws)))
    return rows


def write_evaluation(warehouse: Path, model_version: str, metric_rows_: list[tuple],
                     calibration_rows_: list[tuple]) -> None:
    """Replace this model version's rows in the evaluation and calibration tables."""
    con = connect_warehouse(warehouse)
    try:
        con.execute("create schema if not exists marts")
        con.execute(f"""create table if not exists {EVALUATION_TABLE} (
            model_version varchar, model_segment varchar, model_name varchar, split varchar,
            segment_type varchar, segment_value varchar, metric varchar, value double)""")
        con.execute(f"""create table if not exists {CALIBRATION_TABLE} (
            model_version varchar, model_segment varchar, model_name varchar, split varchar,
            segment_type varchar, segment_value varchar, bin_index integer, bin_lower double,
            bin_upper double, n_rows bigint, weight_sum double, mean_predicted double,
            observed_rate double)""")
        con.execute("begin")
        for table, cols, rows in ((EVALUATION_TABLE, _EVAL_COLUMNS, metric_rows_),
                                  (CALIBRATION_TABLE, _CAL_COLUMNS, calibration_rows_)):
            con.execute(f"delete from {table} where model_version = ?", [model_version])
            df = pd.DataFrame(rows, columns=cols)  # noqa: F841 (read by DuckDB by name)
            con.execute(f"insert into {table} ({', '.join(cols)}) select {', '.join(cols)} "
                        "from df")
        con.execute("commit")
    finally:
        con.close()
