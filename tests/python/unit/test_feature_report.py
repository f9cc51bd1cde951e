"""Per-feature separation on a small warehouse with a known answer."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from botsift.errors import BotsiftError
from botsift.feature_report import feature_separation
from botsift.manifest import FEATURE_MODEL


def _project(tmp_path: Path, frame: pd.DataFrame) -> tuple[Path, Path]:
    root = tmp_path / "proj"
    (root / "target").mkdir(parents=True)
    columns = {c: {"meta": {"role": "feature"}} for c in ("perfect", "noise", "sparse")}
    manifest = {"nodes": {f"model.botsift.{FEATURE_MODEL}": {"columns": columns}}}
    (root / "target" / "manifest.json").write_text(json.dumps(manifest))
    wh = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(wh))
    con.execute("create schema marts")
    con.register("frame", frame)
    con.execute("create table marts.ml_training_examples as select * from frame")
    con.close()
    return root, wh


def _frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    label = np.arange(n) % 4 == 0  # 100 bots, 300 humans
    sparse = np.where(np.arange(n) % 3 == 0, np.nan, label * 5.0)
    return pd.DataFrame({"perfect": np.where(label, 10.0, 1.0) + rng.uniform(0, 0.5, n),
                         "noise": rng.normal(size=n), "sparse": sparse,
                         "label": label.astype(int)})


def test_separation_ranks_features_and_reports_medians_and_nulls(tmp_path: Path) -> None:
    root, wh = _project(tmp_path, _frame())
    report, bots, humans = feature_separation(wh, root)
    assert (bots, humans) == (100, 300)
    assert [s.feature for s in report][0] == "perfect"
    perfect = {s.feature: s for s in report}["perfect"]
    assert perfect.roc_auc == pytest.approx(1.0) and perfect.separation == pytest.approx(1.0)
    assert 10.0 <= perfect.median_bots <= 10.5 and 1.0 <= perfect.median_humans <= 1.5
    noise = {s.feature: s for s in report}["noise"]
    assert 0.5 <= noise.separation < 0.6 and noise.null_share == 0.0
    sparse = {s.feature: s for s in report}["sparse"]
    assert sparse.null_share == pytest.approx(134 / 400)
    assert sparse.median_bots == 5.0 and sparse.median_humans == 0.0  # medians skip nulls


def test_one_class_unknown_source_and_unbuilt_warehouse_are_errors(tmp_path: Path) -> None:
    root, wh = _project(tmp_path, _frame().assign(label=0))
    with pytest.raises(BotsiftError, match="found one class"):
        feature_separation(wh, root)
    with pytest.raises(BotsiftError, match="unknown source 'gold'"):
        feature_separation(wh, root, source="gold")
    with pytest.raises(BotsiftError, match=rf"{wh}: .*fct_account_features does not exist: run `dbt build` first"):
        feature_separation(wh, root, source="truth")  # no feature mart in this warehouse
    con = duckdb.connect(str(wh))
    con.execute("create table marts.fct_account_features as "
                "select *, 1 as account_id, date '2026-01-01' as as_of_date from marts.ml_training_examples")
    con.close()
    with pytest.raises(BotsiftError, match="_simulation_truth.* does not exist.*: --source truth needs a simulated"):
        feature_separation(wh, root, source="truth")  # built, but not simulated
