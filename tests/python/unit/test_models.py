from __future__ import annotations

import numpy as np
import pytest

from botsift.errors import BotsiftError
from botsift.models import Ensemble, cv_folds, simplex_grid, tune_ensemble_weights


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

    from botsift.models import WeightedHistGradientBoostingClassifier

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
