from __future__ import annotations

import hashlib
from datetime import date, datetime

import numpy as np
import pyarrow as pa
import pytest
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.linear_model import LogisticRegression

from botsift.errors import BotsiftError
from botsift.scoring import (
    DeployedModel,
    check_feature_columns,
    decide,
    feature_matrix,
    feature_union,
    score_reader,
    verify_model_file,
)

FEATURES = ["f_a", "f_b", "f_c"]


def _model(tmp_path, name, seed, segment="global", status="active", features=FEATURES):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(400, len(features))).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.5, size=400) > 1).astype(int)
    clf = LogisticRegression().fit(x, y)
    onx = convert_sklearn(clf, initial_types=[("input", FloatTensorType([None, len(features)]))],
                          options={id(clf): {"zipmap": False}})
    path = tmp_path / f"{name}.onnx"
    data = onx.SerializeToString()
    path.write_bytes(data)
    dm = DeployedModel(model_version=name, segment=segment, status=status, onnx_path=path,
                       onnx_sha256=hashlib.sha256(data).hexdigest(), features=list(features),
                       feature_types=dict.fromkeys(features, "DOUBLE"),
                       action_threshold=0.9, review_threshold=0.5)
    return dm, clf


def _batch(n, regions):
    rng = np.random.default_rng(1)
    return pa.RecordBatch.from_pydict({
        "account_id": pa.array(np.arange(n), pa.int64()),
        "as_of_date": pa.array([date(2026, 10, 30)] * n, pa.date32()),
        "region": pa.array([regions[i % len(regions)] for i in range(n)]),
        "f_a": pa.array(rng.normal(size=n)),
        "f_b": pa.array([None if i % 7 == 0 else float(i % 5) for i in range(n)], pa.float64()),
        "f_c": pa.array(rng.integers(0, 10, size=n), pa.int64()),
        "f_d": pa.array(rng.normal(size=n)),
    })


def test_feature_matrix_stacks_in_order_with_nan_for_nulls():
    b = _batch(20, ["eu"])
    m = feature_matrix(b, FEATURES)
    assert m.dtype == np.float32 and m.shape == (20, 3)
    assert np.isnan(m[0, 1]) and not np.isnan(m[1, 1])
    np.testing.assert_allclose(m[:, 2], b.column("f_c").to_numpy().astype(np.float32))


def test_decide_thresholds_inclusive():
    p = np.array([0.1, 0.5, 0.89, 0.9, 0.95])
    assert decide(p, 0.9, 0.5).tolist() == ["none", "review", "review", "action", "action"]


def test_verify_model_file_detects_tampering(tmp_path):
    dm, _ = _model(tmp_path, "v1", 0)
    assert verify_model_file(dm.onnx_path, dm.onnx_sha256)
    dm.onnx_path.write_bytes(dm.onnx_path.read_bytes() + b"x")
    with pytest.raises(BotsiftError, match="does not match its recorded sha256"):
        verify_model_file(dm.onnx_path, dm.onnx_sha256)
    with pytest.raises(BotsiftError, match="missing"):
        verify_model_file(tmp_path / "nope.onnx", dm.onnx_sha256)


def test_check_feature_columns_names_missing_and_retyped(tmp_path):
    dm, _ = _model(tmp_path, "v1", 0)
    check_feature_columns({"f_a": "DOUBLE", "f_b": "double", "f_c": "DOUBLE"}, dm, "x")
    with pytest.raises(BotsiftError, match="feature column f_b is missing"):
        check_feature_columns({"f_a": "DOUBLE", "f_c": "DOUBLE"}, dm, "x")
    with pytest.raises(BotsiftError, match="f_c in x has type VARCHAR"):
        check_feature_columns({"f_a": "DOUBLE", "f_b": "DOUBLE", "f_c": "VARCHAR"}, dm, "x")


def test_score_reader_matches_sklearn_and_routes_regions(tmp_path):
    glob, glob_clf = _model(tmp_path, "g1", 0)
    eu, eu_clf = _model(tmp_path, "eu1", 5, segment="eu")
    shadow, shadow_clf = _model(tmp_path, "s1", 9, status="shadow")
    b = _batch(1000, ["eu", "na", "apac"])
    reader = pa.RecordBatchReader.from_batches(b.schema, [b.slice(0, 600), b.slice(600)])
    out = score_reader(reader, [glob, eu, shadow], datetime(2026, 11, 1)).read_all()
    assert out.num_rows == 2000
    x = feature_matrix(b, FEATURES)
    active = out.filter(pa.compute.equal(out["deployment_status"], "active")).to_pandas()
    is_eu = (active["region"] == "eu").to_numpy()
    assert set(active.loc[is_eu, "model_version"]) == {"eu1"}
    assert set(active.loc[~is_eu, "model_version"]) == {"g1"}
    rows = ~np.isnan(x).any(axis=1)
    expected = np.where(is_eu, eu_clf.predict_proba(np.nan_to_num(x))[:, 1],
                        glob_clf.predict_proba(np.nan_to_num(x))[:, 1])
    np.testing.assert_allclose(active["bot_probability"].to_numpy()[rows], expected[rows],
                               rtol=1e-5, atol=1e-6)
    sh = out.filter(pa.compute.equal(out["deployment_status"], "shadow")).to_pandas()
    assert set(sh["model_version"]) == {"s1"} and len(sh) == 1000


def test_rows_without_a_region_are_scored_by_the_global_model(tmp_path):
    # staging keeps a null region (the export had none); a region model must not stop scoring
    glob, glob_clf = _model(tmp_path, "g1", 0)
    eu, _ = _model(tmp_path, "eu1", 5, segment="eu")
    b = _batch(300, ["eu", None, "na"])
    reader = pa.RecordBatchReader.from_batches(b.schema, [b])
    out = score_reader(reader, [glob, eu], datetime(2026, 11, 1)).read_all().to_pandas()
    assert len(out) == 300
    no_region = out["region"].isna().to_numpy()
    assert no_region.sum() == 100
    assert set(out.loc[no_region, "model_segment"]) == {"global"}
    assert set(out.loc[out["region"] == "eu", "model_segment"]) == {"eu"}
    x = feature_matrix(b, FEATURES)
    rows = no_region & ~np.isnan(x).any(axis=1)  # this plain LR graph has no imputer
    np.testing.assert_allclose(out.loc[rows, "bot_probability"].to_numpy(),
                               glob_clf.predict_proba(x[rows])[:, 1], rtol=1e-5, atol=1e-6)


def test_explain_top_features_lists_largest_positive_terms_as_json():
    import json

    from botsift.scoring import explain_top_features

    explain = {"impute": [0.0, 5.0, 0.0], "mean": [0.0, 0.0, 0.0], "scale": [1.0, 2.0, 1.0],
               "coef": [1.0, 1.0, -1.0]}
    m = np.array([[3.0, np.nan, 1.0], [-1.0, -4.0, -2.0]], dtype=np.float32)
    out = [json.loads(s) for s in explain_top_features(m, explain, FEATURES).to_pylist()]
    # row 0: terms a=3, b=(5-0)/2=2.5 (imputed), c=-1 -> a, b; b was missing, so its value
    # is null (the reviewer must not read the fill value as the account's), its term the fill's
    assert [d["feature"] for d in out[0]] == ["f_a", "f_b"]
    assert out[0][0]["value"] == 3.0
    assert out[0][1]["value"] is None and out[0][1]["contribution"] == 2.5
    # row 1: only c has a positive term (+2)
    assert out[1] == [{"feature": "f_c", "value": -2.0, "contribution": 2.0}]


def test_explain_keeps_each_rows_reasons_on_its_row_when_some_have_none():
    # a flagged row with no positive term gets "[]"; pyarrow 26's null-skipping join dropped
    # such rows from its result, so every later row got the reasons of the one after it
    import json

    from botsift.scoring import explain_top_features

    explain = {"impute": [0.0, 0.0, 0.0], "mean": [0.0, 0.0, 0.0], "scale": [1.0, 1.0, 1.0],
               "coef": [1.0, 1.0, 1.0]}
    m = np.array([[-1.0, -1.0, -1.0], [2.0, -1.0, -1.0], [-1.0, -1.0, -1.0], [1.0, 3.0, 2.0],
                  [-1.0, 0.5, -1.0]] * 400, dtype=np.float32)
    out = [json.loads(s) for s in explain_top_features(m, explain, FEATURES).to_pylist()]
    assert len(out) == len(m)
    expected = [[], ["f_a"], [], ["f_b", "f_c", "f_a"], ["f_b"]] * 400
    assert [[d["feature"] for d in row] for row in out] == expected


def test_explain_writes_an_infinite_feature_as_valid_json():
    import json

    from botsift.scoring import explain_top_features

    explain = {"impute": [0.0, 0.0, 0.0], "mean": [0.0, 0.0, 0.0], "scale": [1.0, 1.0, 1.0],
               "coef": [1.0, 1.0, -1.0]}
    m = np.array([[np.inf, 1.0, -np.inf]], dtype=np.float32)
    out = json.loads(explain_top_features(m, explain, FEATURES).to_pylist()[0])
    assert sorted(out, key=lambda d: d["feature"]) == [
        {"feature": "f_a", "value": "inf", "contribution": "inf"},
        {"feature": "f_b", "value": 1, "contribution": 1},
        {"feature": "f_c", "value": "-inf", "contribution": "inf"}]


def test_parallel_workers_yield_the_serial_result_in_input_order(tmp_path):
    glob, _ = _model(tmp_path, "g1", 0)
    eu, _ = _model(tmp_path, "eu1", 5, segment="eu")
    b = _batch(2000, ["eu", "na"])
    slices = [b.slice(i, 150) for i in range(0, 2000, 150)]  # 14 batches, the last short
    serial = score_reader(pa.RecordBatchReader.from_batches(b.schema, slices), [glob, eu],
                          datetime(2026, 11, 1), workers=1).read_all()
    parallel = score_reader(pa.RecordBatchReader.from_batches(b.schema, slices), [glob, eu],
                            datetime(2026, 11, 1), workers=3).read_all()
    # NaN features give NaN scores here (a bare logistic regression), and NaN != NaN in equals
    assert parallel.drop(["bot_probability"]).equals(serial.drop(["bot_probability"]))
    np.testing.assert_array_equal(parallel["bot_probability"].to_numpy(),
                                  serial["bot_probability"].to_numpy())
    assert parallel.column("account_id").to_pylist() == list(range(2000))


def test_a_failing_batch_fails_the_reader_with_its_error(tmp_path, monkeypatch):
    glob, _ = _model(tmp_path, "g1", 0)
    real = DeployedModel.predict
    calls = []

    def predict(self, matrix):
        calls.append(len(matrix))
        if len(calls) == 3:
            raise BotsiftError("onnxruntime failed on batch 3")
        return real(self, matrix)

    monkeypatch.setattr(DeployedModel, "predict", predict)
    b = _batch(1000, ["na"])
    reader = score_reader(pa.RecordBatchReader.from_batches(
        b.schema, [b.slice(i, 100) for i in range(0, 1000, 100)]), [glob],
        datetime(2026, 11, 1), workers=2)
    with pytest.raises(BotsiftError, match="failed on batch 3"):
        reader.read_all()


def test_a_shadow_with_another_feature_list_is_scored_on_its_own_features(tmp_path):
    # a shadow trained after the mart gained f_d and lost f_b from training (constant there):
    # the active model keeps scoring on its features, the shadow on its own
    glob, glob_clf = _model(tmp_path, "g1", 0)
    shadow_features = ["f_a", "f_c", "f_d"]
    shadow, shadow_clf = _model(tmp_path, "s2", 9, status="shadow", features=shadow_features)
    b = _batch(500, ["eu", "na"])
    models = [glob, shadow]
    assert feature_union(models) == ["f_a", "f_b", "f_c", "f_d"]
    out = score_reader(pa.RecordBatchReader.from_batches(b.schema, [b.slice(0, 300), b.slice(300)]),
                       models, datetime(2026, 11, 1)).read_all()
    for status, clf, features in (("active", glob_clf, FEATURES),
                                  ("shadow", shadow_clf, shadow_features)):
        got = out.filter(pa.compute.equal(out["deployment_status"], status))
        x = feature_matrix(b, features)
        rows = ~np.isnan(x).any(axis=1)
        assert got.num_rows == 500
        np.testing.assert_allclose(got["bot_probability"].to_numpy()[rows],
                                   clf.predict_proba(x[rows])[:, 1], rtol=1e-5, atol=1e-6)


def test_a_deployment_that_cannot_route_fails_before_any_batch_is_read(tmp_path):
    glob, _ = _model(tmp_path, "g1", 0)
    eu_shadow, _ = _model(tmp_path, "s1", 5, segment="eu", status="shadow")
    read = []

    def batches():
        read.append(1)
        yield _batch(10, ["eu"])

    with pytest.raises(BotsiftError, match="no global shadow model"):
        score_reader(batches(), [glob, eu_shadow], datetime(2026, 11, 1), prefetch=False)
    assert not read


def test_a_graph_with_double_probabilities_is_refused(tmp_path):
    # the score table stores float32: exact for every graph botsift exports, and a double
    # output would be rounded there, possibly across a threshold from its stored decision
    from skl2onnx.common.data_types import DoubleTensorType

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, len(FEATURES)))
    clf = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    data = convert_sklearn(clf, initial_types=[("input", DoubleTensorType([None, len(FEATURES)]))],
                           options={id(clf): {"zipmap": False}}).SerializeToString()
    path = tmp_path / "double.onnx"
    path.write_bytes(data)
    dm = DeployedModel(model_version="d", segment="global", status="active", onnx_path=path,
                       onnx_sha256=hashlib.sha256(data).hexdigest(), features=list(FEATURES),
                       feature_types=dict.fromkeys(FEATURES, "DOUBLE"),
                       action_threshold=0.9, review_threshold=0.5)
    with pytest.raises(BotsiftError, match=r"outputs tensor\(double\) probabilities"):
        dm.session()
    float_model, _ = _model(tmp_path, "f", 0)
    assert float_model.session() is not None
