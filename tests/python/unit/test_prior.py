from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from botsift.export import onnx_probabilities, to_onnx
from botsift.models import Ensemble, build_estimator, fit_estimator
from botsift.prior import balanced_sample_weight, correct_probability, odds_factor


def test_correct_probability_scales_odds_exactly():
    p = np.array([0.0, 0.1, 0.5, 0.9, 1.0])
    out = correct_probability(p, 0.25)
    mid = slice(1, 4)
    np.testing.assert_allclose(out[mid] / (1 - out[mid]), 0.25 * p[mid] / (1 - p[mid]))
    assert out[0] == 0.0 and out[-1] == 1.0


def test_balanced_weights_give_equal_class_totals_and_undo_sampling():
    y = np.array([1, 1, 0, 0, 0, 0])
    rate = np.array([1.0, 1.0, 0.5, 0.5, 0.25, 0.25])
    w = balanced_sample_weight(y, rate)
    assert w[y == 1].sum() == w[y == 0].sum() == 3.0
    assert w[4] == 2 * w[2]  # a row kept at a quarter stands for twice as many as one at half


def test_odds_factor_is_population_prior_odds():
    y = np.r_[np.ones(30), np.zeros(240)]
    rate = np.r_[np.ones(30), np.full(240, 0.25)]  # 960 humans in the population
    assert odds_factor(y, rate) == 30 / 960


def test_prior_correction_recovers_population_probabilities():
    rng = np.random.default_rng(0)
    n = 200_000
    x = rng.normal(size=(n, 1))
    p_true = 1 / (1 + np.exp(-(-4.0 + 1.5 * x[:, 0])))
    y = (rng.random(n) < p_true).astype(int)
    r = 0.1
    keep = (y == 1) | (rng.random(n) < r)
    xs, ys = x[keep], y[keep]
    rate = np.where(ys == 1, 1.0, r)
    clf = LogisticRegression().fit(xs, ys, sample_weight=balanced_sample_weight(ys, rate))
    k = odds_factor(ys, rate)
    raw = clf.predict_proba(x)[:, 1]
    corrected = correct_probability(raw, k)
    assert abs(corrected.mean() - p_true.mean()) < 0.1 * p_true.mean()
    assert np.abs(corrected - p_true).max() < 0.03
    assert raw.mean() > 5 * p_true.mean()  # without the correction it is far off


def test_onnx_graph_applies_the_correction():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(2000, 4)).astype(np.float32)
    y = (X[:, 0] + rng.normal(size=2000) > 1.5).astype(int)
    est = fit_estimator(build_estimator("logistic_regression", {"C": 1.0}, 0), X, y,
                        balanced_sample_weight(y, np.ones(2000)))
    ens = Ensemble(["logistic_regression"], [est], np.array([1.0]), odds_factor=0.05)
    onnx_scores = onnx_probabilities(to_onnx(ens, 4), X)
    expected = correct_probability(est.predict_proba(X)[:, 1], 0.05)
    np.testing.assert_allclose(onnx_scores, expected, rtol=1e-5, atol=1e-6)
    assert onnx_scores.mean() < est.predict_proba(X)[:, 1].mean()
