from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score

from botsift.evaluation import (
    bootstrap_pr_auc,
    calibration_rows,
    metric_rows,
    weighted_average_precision,
)


def _data(seed=0, n=3000):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(int)
    s = np.clip(0.3 * y + rng.random(n) * 0.7, 0, 1).round(3)  # rounded: ties
    w = np.where(y == 1, 1.0, rng.choice([2.0, 4.0], n))
    return y, s, w


def test_weighted_average_precision_matches_sklearn():
    y, s, w = _data()
    assert np.isclose(weighted_average_precision(y, s, w),
                      average_precision_score(y, s, sample_weight=w))
    assert np.isclose(weighted_average_precision(y, s), average_precision_score(y, s))


def test_bootstrap_interval_brackets_estimate_and_is_seeded():
    y, s, w = _data()
    groups = np.arange(len(y)).astype(str)
    lo, hi = bootstrap_pr_auc(y, s, w, groups, n_resamples=200, seed=1)
    assert lo < weighted_average_precision(y, s, w) < hi
    assert (lo, hi) == bootstrap_pr_auc(y, s, w, groups, n_resamples=200, seed=1)


def test_metric_rows_long_format_and_confusion():
    y, s, w = _data()
    seg = {"region": np.where(np.arange(len(y)) % 2 == 0, "eu", "na").astype(object)}
    rows = metric_rows(model_version="v", model_segment="global", model_name="ensemble",
                       split="test", y=y, scores=s, weight=w, segments=seg,
                       thresholds={"action": 0.8, "review": 0.5})
    overall = {r[6]: r[7] for r in rows if r[4] == "overall"}
    assert {r[5] for r in rows if r[4] == "region"} == {"eu", "na"}
    assert overall["tp_at_action"] + overall["fn_at_action"] == y.sum()
    assert sum(overall[f"{k}_at_review"] for k in ("tp", "fp", "fn", "tn")) == len(y)
    tp, fp = overall["tp_weighted_at_action"], overall["fp_weighted_at_action"]
    assert np.isclose(overall["precision_at_action"], tp / (tp + fp))
    assert {"roc_auc", "pr_auc", "brier", "f1_at_action"} <= set(overall)


def test_calibration_bins_cover_all_weight():
    y, s, w = _data()
    rows = calibration_rows(model_version="v", model_segment="global", model_name="ensemble",
                            split="test", y=y, scores=s, weight=w)
    assert sum(r[9] for r in rows) == len(y)
    assert np.isclose(sum(r[10] for r in rows), w.sum())


def test_bootstrap_interval_without_positives_is_undefined_not_an_error():
    # a region's test slice can hold no bot: PR AUC is undefined there (NaN), as unresampled
    y = np.zeros(50)
    s = np.linspace(0, 1, 50)
    assert np.isnan(weighted_average_precision(y, s))
    lo, hi = bootstrap_pr_auc(y, s, np.ones(50), np.arange(50) // 5, n_resamples=20)
    assert np.isnan(lo) and np.isnan(hi)
    lo, hi = bootstrap_pr_auc(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), n_resamples=20)
    assert np.isnan(lo) and np.isnan(hi)
