"""Training helpers that need no training run: the drift reference written for a version."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.linear_model import LogisticRegression

from botsift import registry
from botsift.drift import BINS_TABLE, bin_shares
from botsift.examples import TrainingExamples
from botsift.export import onnx_probabilities
from botsift.train import _write_drift_reference

SNAPSHOT = date(2026, 10, 14)
FEATURES = ["f1", "f2"]


def _onnx(coef: list[float], intercept: float) -> bytes:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    clf = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    clf.coef_ = np.array([coef])
    clf.intercept_ = np.array([intercept])
    model = convert_sklearn(clf, initial_types=[("input", FloatTensorType([None, 2]))],
                            options={id(clf): {"zipmap": False}})
    return model.SerializeToString()


def test_reference_scores_follow_the_region_models_scoring_routes_to(tmp_path: Path) -> None:
    """A version with a region model: the score reference is what scoring writes (the region's
    rows by the region model, the rest by the global one), so the reference window reproduces
    its own shares in mon_score_drift."""
    rng = np.random.default_rng(1)
    n = 2000
    frame = pd.DataFrame({
        "account_id": np.arange(n) % 400,
        "as_of_date": [SNAPSHOT - timedelta(days=int(d)) for d in rng.integers(0, 7, n)],
        "region": rng.choice(["eu", "na"], n),
        "f1": rng.normal(size=n), "f2": rng.normal(size=n),
    })
    wh = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(wh))
    con.execute("create schema marts")
    con.execute("create table marts.fct_account_features as select * from frame")
    con.close()
    folder = tmp_path / "v1"
    (folder / "segments" / "eu").mkdir(parents=True)
    glob, eu = _onnx([1.0, 0.0], -2.0), _onnx([0.0, 3.0], 2.0)
    (folder / registry.ONNX_NAME).write_bytes(glob)
    (folder / "segments" / "eu" / registry.ONNX_NAME).write_bytes(eu)
    data = TrainingExamples(features=FEATURES, X=np.zeros((0, 2)), y=np.zeros(0),
                            split=np.zeros(0), group=np.zeros(0), sampling_rate=np.ones(0),
                            segments={}, account_id=np.zeros(0), snapshot=SNAPSHOT)

    _write_drift_reference(wh, "v1", folder, data, tmp_path / "expectations", 300_000)

    x = frame[FEATURES].to_numpy(dtype=np.float32)
    is_eu = (frame["region"] == "eu").to_numpy()
    scored = np.where(is_eu, onnx_probabilities(eu, x), onnx_probabilities(glob, x))
    con = duckdb.connect(str(wh), read_only=True)
    rows = con.execute(f"select lower, upper, reference_share from {BINS_TABLE} where "
                       "model_version = 'v1' and feature = 'bot_probability' "
                       "order by bin_index").fetchall()
    con.close()
    edges = np.array([r[0] for r in rows[1:-1]])
    reference = np.array([r[2] for r in rows])
    np.testing.assert_allclose(bin_shares(scored, edges), reference, atol=1e-12)


def test_a_region_model_must_beat_the_global_base_models_best_vote_on_its_rows() -> None:
    """A region model made of the very base models the global one has, its vote tuned on the
    region's validation rows, beats the deployed global vote (tuned elsewhere: here the tree
    alone) but only ties the global base models' own best vote on those rows, so the global
    model is kept; comparing against the deployed global vote would keep the copy."""
    from types import SimpleNamespace

    from sklearn.tree import DecisionTreeClassifier

    from botsift.models import Ensemble, tune_ensemble_weights
    from botsift.train import _region_comparison, _SegmentModel

    rng = np.random.default_rng(3)
    x = rng.normal(size=(600, 3))
    y = (x[:, 0] + 0.8 * x[:, 1] + rng.normal(scale=0.8, size=600) > 1.0).astype(int)
    fit, val = slice(0, 300), slice(300, 600)
    base = {"logistic": LogisticRegression().fit(x[fit], y[fit]),
            "tree": DecisionTreeClassifier(max_depth=2, random_state=0).fit(x[fit], y[fit])}
    va = SimpleNamespace(X=x[val], y=y[val], weight=np.ones(300))

    def segment(weights: list[float], val_ap: float) -> _SegmentModel:
        ens = Ensemble(list(base), list(base.values()), np.asarray(weights), 1.0)
        return _SegmentModel("eu", ens, dict(base), None, {}, val_ap, 1.0, b"")  # type: ignore[arg-type]

    glob = segment([0.0, 1.0], 0.0)  # the global vote, tuned on other rows: the tree alone
    raw = np.column_stack([m.predict_proba(va.X)[:, 1] for m in base.values()])
    weights, region_ap = tune_ensemble_weights(raw, va.y, va.weight, step=0.1)
    region = segment(list(weights), region_ap)

    keep, got = _region_comparison(region, glob, va, weight_step=0.1)  # type: ignore[arg-type]
    assert got["region_model_validation_pr_auc"] > got["global_model_validation_pr_auc"] + 0.02
    assert got["global_revoted_validation_pr_auc"] == got["region_model_validation_pr_auc"]
    assert not keep
    better = segment(list(weights), region_ap + 0.01)  # a region model that does beat it
    assert _region_comparison(better, glob, va, weight_step=0.1)[0]  # type: ignore[arg-type]


def test_two_runs_in_the_same_second_reserve_different_versions(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    import pytest

    from botsift.errors import BotsiftError
    from botsift.train import _reserve_version

    now = datetime(2026, 11, 25, 3, 56, 16, tzinfo=UTC)
    a, lock_a = _reserve_version(tmp_path, None, now)
    b, _ = _reserve_version(tmp_path, None, now)
    assert a.startswith("20261125T035616-") and b.startswith("20261125T035617-"), (a, b)
    with pytest.raises(BotsiftError, match="exists or is being trained"):
        _reserve_version(tmp_path, a, now)  # an explicit id: no bump
    lock_a.unlink()
    (tmp_path / a).mkdir()  # trained and written
    c, _ = _reserve_version(tmp_path, None, now)
    assert c not in (a, b)
    afile = tmp_path / "a_file"
    afile.write_text("x")
    with pytest.raises(BotsiftError, match="artifacts folder .*a_file cannot be made"):
        _reserve_version(afile, None, now)
