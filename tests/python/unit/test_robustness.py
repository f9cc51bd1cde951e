from __future__ import annotations

import numpy as np
import pytest
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.linear_model import LogisticRegression

from botsift.errors import BotsiftError
from botsift.robustness import feature_robustness, perturbations


def test_perturbation_kinds():
    kind, v = perturbations(np.array([0.0, 1.0, np.nan]), "has_profile_url")
    assert kind == "binary"
    np.testing.assert_array_equal(v["flip"], [1.0, 0.0, np.nan])
    kind, v = perturbations(np.array([0.0, 3.0, 7.0]), "count_posts_7d")
    assert kind == "integer" and set(v) == {"+1", "-1"}
    np.testing.assert_array_equal(v["-1"], [0.0, 2.0, 6.0])  # a count never goes below 0
    kind, v = perturbations(np.array([0.0, 0.5, 1.0]), "night_post_ratio_30d")
    assert kind == "continuous" and set(v) == {"+5%", "-5%"}
    np.testing.assert_allclose(v["+5%"], [0.0, 0.525, 1.0])  # clipped to the seen range
    np.testing.assert_allclose(v["-5%"], [0.0, 0.475, 0.95])
    # a sparse ratio holding only 0 and 1 is still a ratio
    assert perturbations(np.array([0.0, 1.0]), "follow_back_ratio_30d")[0] == "continuous"


def _model(X, y):
    clf = LogisticRegression().fit(X, y)
    onx = convert_sklearn(clf, initial_types=[("input", FloatTensorType([None, X.shape[1]]))],
                          options={id(clf): {"zipmap": False}})
    return onx.SerializeToString(), clf


def test_only_the_feature_the_model_uses_moves_scores():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, 20, 400), rng.random(400)]).astype(np.float32)
    y = (X[:, 0] > 10).astype(int)
    onnx_bytes, _ = _model(X, y)
    res = {(r.feature, r.perturbation): r for r in feature_robustness(
        onnx_bytes, X, ["count_x", "noise_ratio"], action_threshold=0.9, review_threshold=0.5,
        model_version="v")}
    assert set(res) == {("count_x", "+1"), ("count_x", "-1"), ("noise_ratio", "+5%"),
                        ("noise_ratio", "-5%")}
    count_up = res[("count_x", "+1")]
    assert count_up.mean_abs_score_change > 10 * res[("noise_ratio", "+5%")].mean_abs_score_change
    assert 0 < count_up.review_flip_share < 0.5
    assert count_up.n_rows == 400


def test_empty_or_misshapen_input_is_refused():
    X = np.zeros((3, 2), np.float32)
    onnx_bytes, _ = _model(np.array([[0, 0], [1, 1]], np.float32), np.array([0, 1]))
    with pytest.raises(BotsiftError, match="shape"):
        feature_robustness(onnx_bytes, X, ["a"], action_threshold=0.9, review_threshold=0.5,
                           model_version="v")
    with pytest.raises(BotsiftError, match="empty"):
        feature_robustness(onnx_bytes, X[:0], ["a", "b"], action_threshold=0.9,
                           review_threshold=0.5, model_version="v")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"split": "holdout"}, "split 'holdout': use one of train, validation, test"),
    ({"relative_step": 0.0}, "relative step 0 must be above 0"),
    ({"count_step": -1.0}, "count step -1 must be above 0"),
])
def test_bad_split_or_step_is_refused_before_opening_the_warehouse(tmp_path, kwargs, match):
    from botsift.robustness import run_robustness

    with pytest.raises(BotsiftError, match=match):
        run_robustness(tmp_path / "never_opened.duckdb", **kwargs)
