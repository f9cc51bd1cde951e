from __future__ import annotations

import json

import numpy as np
import pytest

from botsift.explain import KIND, contributions, ensemble_payload
from botsift.models import Ensemble, build_estimator, fit_estimator


def _data(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    # f0 and f1 decide; f2 is noise; f3 is missing on a third of the rows
    z = 2.0 * x[:, 0] - 1.5 * x[:, 1] + 0.8 * np.nan_to_num(x[:, 3]) + rng.normal(scale=0.7, size=n)
    y = (z > 1.0).astype(int)
    x[rng.random(n) < 0.33, 3] = np.nan
    return x, y


def _ensemble(families, weights, x, y, odds=0.05):
    ests = [fit_estimator(build_estimator(f, {"max_depth": 5} if f == "decision_tree" else {}, 0),
                          x, y, np.ones(len(y))) for f in families]
    return Ensemble(list(families), ests, np.asarray(weights, dtype=float), odds)


@pytest.mark.parametrize("families,weights", [
    (("logistic_regression", "decision_tree", "hist_gradient_boosting"), (0.2, 0.3, 0.5)),
    (("decision_tree", "hist_gradient_boosting"), (0.4, 0.6)),
    (("hist_gradient_boosting",), (1.0,)),
    (("logistic_regression",), (1.0,)),
])
def test_contributions_add_up_to_the_ensembles_own_score(families, weights):
    x, y = _data()
    ens = _ensemble(families, weights, x, y)
    # through JSON, as the model card carries it
    payload = json.loads(json.dumps(ensemble_payload(ens.names, ens.estimators, ens.weights,
                                                     ens.odds_factor)))
    assert payload["kind"] == KIND
    c, p, p0 = contributions(x, payload)
    expected = ens.predict_proba(x)
    # the explained probability is the deployed model's score (scikit-learn's logistic
    # regression computes in float32 on float32 input: 1e-6 apart) ...
    np.testing.assert_allclose(p, expected, rtol=0, atol=1e-5)
    # ... and the parts add up to its log-odds, from the base's
    def logit(q):
        return np.log(q) - np.log1p(-q)

    inside = (p > 1e-9) & (p < 1 - 1e-9)
    np.testing.assert_allclose((logit(p0) + c.sum(axis=1))[inside], logit(p[inside]), rtol=1e-9, atol=1e-9)
    # the noise feature moves scores far less than the two that decide
    spread = np.abs(c).mean(axis=0)
    assert spread[2] < 0.5 * min(spread[0], spread[1])


def test_the_flagged_rows_reasons_are_the_features_that_decided_them():
    x, y = _data()
    ens = _ensemble(("decision_tree", "hist_gradient_boosting"), (0.4, 0.6), x, y, odds=1.0)
    payload = ensemble_payload(ens.names, ens.estimators, ens.weights, ens.odds_factor)
    flagged = ens.predict_proba(x) > 0.9
    c, _, _ = contributions(x[flagged], payload)
    # a high score comes from a high f0 or a low f1: one of them leads almost every row
    lead = c.argmax(axis=1)
    assert np.isin(lead, [0, 1]).mean() > 0.9


def test_a_random_forest_member_gives_no_explanation_rather_than_another_models():
    x, y = _data(400)
    ens = _ensemble(("logistic_regression", "random_forest"), (0.5, 0.5), x, y)
    assert ensemble_payload(ens.names, ens.estimators, ens.weights, ens.odds_factor) is None
