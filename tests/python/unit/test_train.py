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
