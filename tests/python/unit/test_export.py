from __future__ import annotations

import numpy as np
import onnx
import pytest

from botsift.export import check_parity, onnx_probabilities, to_onnx
from botsift.models import Ensemble, build_estimator, fit_estimator
from botsift.prior import balanced_sample_weight


@pytest.fixture(scope="module")
def ensemble_and_data():
    rng = np.random.default_rng(3)
    n, d = 4000, 8
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, 0] - X[:, 3] + rng.normal(size=n) > 2.2).astype(int)
    X[rng.random((n, d)) < 0.08] = np.nan  # NULL features: imputed inside the graph
    w = balanced_sample_weight(y, np.ones(n))
    params = {"logistic_regression": {"C": 1.0}, "decision_tree": {"max_depth": 5},
              "hist_gradient_boosting": {"max_iter": 30}, "random_forest": {"n_estimators": 10}}
    ests = [fit_estimator(build_estimator(f, p, 0), X, y, w) for f, p in params.items()]
    ens = Ensemble(list(params), ests, np.array([0.4, 0.1, 0.3, 0.2]), odds_factor=0.1)
    return ens, X


def test_graph_signature(ensemble_and_data):
    ens, X = ensemble_and_data
    model = onnx.load_from_string(to_onnx(ens, X.shape[1], {"features": "a,b"}))
    assert [i.name for i in model.graph.input] == ["input"]
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert [o.name for o in model.graph.output] == ["label", "probabilities"]
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["features"] == "a,b" and float(meta["prior_odds_factor"]) == 0.1


def test_the_same_ensemble_exports_the_same_bytes(ensemble_and_data):
    # "Same seed, same bytes out": skl2onnx names a graph with a random uuid unless told.
    ens, X = ensemble_and_data
    first, second = (to_onnx(ens, X.shape[1], {"features": "a,b"}) for _ in range(2))
    assert first == second
    assert onnx.load_from_string(first).graph.name == "botsift_ensemble"


def test_onnx_matches_sklearn(ensemble_and_data):
    ens, X = ensemble_and_data
    onnx_scores = onnx_probabilities(to_onnx(ens, X.shape[1]), X)
    np.testing.assert_allclose(onnx_scores, ens.predict_proba(X), rtol=1e-5, atol=1e-6)


def test_parity_near_thresholds(ensemble_and_data):
    ens, X = ensemble_and_data
    sk = ens.predict_proba(X)
    ox = onnx_probabilities(to_onnx(ens, X.shape[1]), X)
    # Thresholds placed exactly on scores (ties) and just beside them.
    picks = np.quantile(sk, [0.95, 0.99])
    at = sk[np.abs(sk[:, None] - picks).argmin(axis=0)]
    th = {"action": float(at[1]), "review": float(at[0]),
          "beside": float(at[1] + 1e-4)}
    par = check_parity(sk, ox, th)
    assert par.passed, par
    assert par.ties["action"] >= 1 and par.ties["review"] >= 1
    np.testing.assert_allclose(ox[sk >= th["review"]], sk[sk >= th["review"]], rtol=1e-5,
                               atol=1e-6)


def test_parity_flags_mismatches():
    sk = np.array([0.1, 0.5, 0.9])
    par = check_parity(sk, sk + np.array([0.0, -0.01, 0.0]), {"action": 0.495})
    assert not par.passed and par.decision_mismatches["action"] == 1
    tie = check_parity(sk, sk - 1e-7, {"action": 0.5})
    assert tie.passed and tie.ties["action"] == 1


def test_a_row_on_a_threshold_chosen_on_the_graphs_scores_is_a_tie():
    # the threshold is the graph's score of a row (every row of its leaf has it exactly);
    # scikit-learn's float64 score of that row is 3e-6 below: within the score tolerance,
    # so a tie, not a mismatch that fails training (a tie was within 1e-6 only)
    onnx = np.array([0.1, 0.5, 0.9])
    sk = onnx + np.array([0.0, -3e-6, 0.0])
    par = check_parity(sk, onnx, {"action": 0.5})
    assert par.passed and par.ties["action"] == 1 and par.decision_mismatches["action"] == 0
    # beyond the tolerance the scores themselves disagree
    assert not check_parity(onnx - 3e-5, onnx, {"action": 0.5}).passed


def test_probabilities_are_the_scorers_one_thread_scores():
    """Thresholds are chosen on these scores: they must be the ones scoring computes.

    A tree ensemble's sums run in another order on more threads (scores move by ~1e-6);
    scoring runs one thread per session.
    """
    import onnxruntime as ort

    rng = np.random.default_rng(3)
    n, d = 4000, 8
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, 0] - X[:, 3] + rng.normal(size=n) > 2.2).astype(int)
    w = balanced_sample_weight(y, np.ones(n))
    ests = [fit_estimator(build_estimator("hist_gradient_boosting", {"max_iter": 100}, 0), X, y, w),
            fit_estimator(build_estimator("random_forest", {"n_estimators": 100}, 0), X, y, w)]
    graph = to_onnx(Ensemble(["hgb", "rf"], ests, np.array([0.5, 0.5]), 0.1), d)
    Xt = rng.normal(size=(20_000, d)).astype(np.float32)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    one = ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])
    expected = one.run(["probabilities"], {"input": Xt})[0][:, 1].astype(np.float64)
    np.testing.assert_array_equal(onnx_probabilities(graph, Xt), expected)
