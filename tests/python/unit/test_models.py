from __future__ import annotations

import numpy as np
import pytest

from botsift.errors import BotsiftError
from botsift.models import (
    Ensemble,
    WeightedHistGradientBoostingClassifier,
    build_estimator,
    cv_folds,
    fit_estimator,
    group_holdout,
    simplex_grid,
    tune_ensemble_weights,
)
from botsift.prior import balanced_sample_weight


def test_folds_keep_groups_together_and_stratify():
    rng = np.random.default_rng(0)
    bots = np.repeat(np.arange(40), 5)  # 40 botnets of 5
    groups = np.r_[np.array([f"b{g}" for g in bots]), np.array([f"h{i}" for i in range(1800)])]
    y = np.r_[np.ones(200, int), np.zeros(1800, int)]
    perm = rng.permutation(len(y))
    groups, y = groups[perm], y[perm]
    folds = cv_folds(y, groups, 4, seed=0)
    seen = np.zeros(len(y), int)
    for tr, te in folds:
        assert not set(groups[tr]) & set(groups[te])
        assert 0.07 < y[te].mean() < 0.13
        seen[te] += 1
    assert (seen == 1).all()
    with pytest.raises(BotsiftError, match="positive groups"):
        cv_folds(np.r_[1, 1, 0, 0], np.array(["a", "a", "x", "y"]), 2, seed=0)


def test_simplex_grid():
    g = simplex_grid(3, 0.25)
    assert np.allclose(g.sum(axis=1), 1) and len(g) == 15


def test_weights_favour_the_informative_model():
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.1).astype(int)
    good = np.clip(0.5 * y + 0.5 * rng.random(2000), 0, 1)
    noise = rng.random(2000)
    w, score = tune_ensemble_weights(np.column_stack([noise, good]), y, np.ones(2000))
    assert w[1] > w[0] and score > 0.9


def test_ensemble_drops_zero_weight_members():
    ens = Ensemble(["a", "b", "c"], [object(), object(), object()], np.array([0.5, 0.0, 0.5]), 1.0)
    assert ens.names == ["a", "c"] and np.allclose(ens.weights, [0.5, 0.5])


def test_hgb_bins_ignore_weights_but_boosting_uses_them():
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 3))
    y = (X[:, 0] + rng.normal(size=3000) > 1).astype(int)
    w = np.where(y == 1, 5.0, 1.0)
    ours = WeightedHistGradientBoostingClassifier(max_iter=5, random_state=0).fit(X, y, w)
    plain = HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(X, y)
    for a, b in zip(ours._bin_mapper.bin_thresholds_, plain._bin_mapper.bin_thresholds_,
                    strict=True):
        np.testing.assert_array_equal(a, b)
    assert ours.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean()


def _botnets_and_humans(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and groups: 60 botnets of 2-39 bots, 2,000 lone humans, 300 humans x 3 snapshots."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 40, 60)
    groups = np.r_[np.repeat([f"b{i}" for i in range(60)], sizes),
                   [f"h{i}" for i in range(2000)], np.repeat([f"s{i}" for i in range(300)], 3)]
    y = np.r_[np.ones(sizes.sum(), int), np.zeros(2900, int)]
    perm = rng.permutation(len(y))
    return y[perm], groups[perm]


def test_group_holdout_takes_whole_groups_and_each_class_its_share():
    y, groups = _botnets_and_humans(0)
    held = group_holdout(y, groups, 0.1, seed=0)
    for g in np.unique(groups):  # a group is all in or all out
        assert len(set(held[groups == g].tolist())) == 1
    for c in (0, 1):
        assert 0.08 < held[y == c].mean() < 0.12
    np.testing.assert_array_equal(held, group_holdout(y, groups, 0.1, seed=0))
    assert (held != group_holdout(y, groups, 0.1, seed=1)).any()
    # one bot group: it stays in the fitted rows, which keep both classes
    one = group_holdout(np.r_[1, 1, 0, 0, 0], np.array(["b", "b", "x", "y", "z"]), 0.4, seed=0)
    assert not one[:2].any() and one[2:].sum() == 1
    with pytest.raises(ValueError, match="fraction"):
        group_holdout(y, groups, 1.0, seed=0)


def test_hgb_early_stopping_validates_on_the_held_out_groups():
    """With groups, fit == fitting the other groups with the held-out ones as X_val."""
    y, groups = _botnets_and_humans(1)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(len(y), 4)) + y[:, None]
    w = balanced_sample_weight(y, np.ones(len(y)))
    est = fit_estimator(build_estimator("hist_gradient_boosting", {"max_iter": 60}, 7), X, y, w,
                        groups=groups)
    held = group_holdout(y, groups, 0.1, seed=7)
    ref = WeightedHistGradientBoostingClassifier(**est.get_params()).fit(
        X[~held], y[~held], w[~held], X_val=X[held], y_val=y[held], sample_weight_val=w[held])
    assert est.n_iter_ == ref.n_iter_
    np.testing.assert_array_equal(est.validation_score_, ref.validation_score_)
    np.testing.assert_array_equal(est.predict_proba(X), ref.predict_proba(X))


def test_grouped_early_stopping_stops_when_unseen_groups_stop_improving():
    """Groups of near-duplicate rows whose labels carry no signal: nothing generalizes.

    A row-wise hold-out holds out copies of fitted rows, so its loss keeps falling and boosting
    runs to max_iter; a grouped one sees no gain and stops after about n_iter_no_change.
    """
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(200), 10)
    X = rng.normal(size=(200, 4))[g] + 0.05 * rng.normal(size=(len(g), 4))
    y = (rng.random(200) < 0.3).astype(int)[g]
    w = balanced_sample_weight(y, np.ones(len(y)))
    params = {"max_iter": 100}
    rowwise = fit_estimator(build_estimator("hist_gradient_boosting", params, 0), X, y, w)
    grouped = fit_estimator(build_estimator("hist_gradient_boosting", params, 0), X, y, w,
                            groups=g)
    assert rowwise.n_iter_ == 100
    assert grouped.n_iter_ < 50
