"""The mon_feature_validation adapter on a real registry, reference and GX suite."""
from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from botsift.drift import REFERENCE_TABLE, DriftSettings, build_reference
from botsift.errors import BotsiftError
from botsift.monitoring import VALIDATION_SCHEMA, active_model_version, feature_validation
from botsift.registry import VERSIONS_TABLE, SegmentArtifact, promote, register, write_version


def _register(tmp: Path, wh: Path, version: str) -> None:
    card = {"segment": "global", "thresholds": {"action": 0.9, "review": 0.5}}
    register(wh, write_version(tmp / "artifacts", version,
                               {"global": SegmentArtifact(b"onnx-" + version.encode(), card, {})}))


def _frame(dates: list[str], mean_a: float, seed: int, n: int = 2000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "as_of_date": np.repeat(pd.to_datetime(dates).date, n),
        "a": rng.normal(mean_a, 2, len(dates) * n),
        "b": rng.poisson(0.3, len(dates) * n).astype(float),
    })


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1 active with a reference on 2026-01-01..03; features through 2026-01-05, the 5th shifted."""
    tmp = tmp_path_factory.mktemp("monitoring")
    wh = tmp / "wh.duckdb"
    _register(tmp, wh, "v1")
    promote(wh, "v1")
    reference = _frame(["2026-01-01", "2026-01-02", "2026-01-03"], 10.0, 1)
    con = duckdb.connect(str(wh))
    build_reference(con, "v1", ["a", "b"], reference, expectations_dir=tmp / "expectations",
                    settings=DriftSettings(kl_threshold=0.02))
    later = pd.concat([_frame(["2026-01-04"], 10.0, 2), _frame(["2026-01-05"], 10.8, 3)])
    con.register("rows", pd.concat([reference, later]))
    con.execute("create table features as select * from rows")
    con.close()
    return wh


def _relations(con: duckdb.DuckDBPyConnection) -> tuple:
    return con.table("features"), con.table(VERSIONS_TABLE), con.table(REFERENCE_TABLE)


def test_active_model_version_none_one_or_too_many(warehouse: Path) -> None:
    con = duckdb.connect(str(warehouse))
    versions = con.table(VERSIONS_TABLE)
    assert active_model_version(versions) == "v1"
    assert active_model_version(versions, segment="eu") is None
    con.execute(f"create table two as select * from {VERSIONS_TABLE} union all "
                f"select * from {VERSIONS_TABLE}")
    with pytest.raises(BotsiftError, match="2 active model versions for segment global"):
        active_model_version(con.table("two"))
    con.close()


def test_validation_covers_only_dates_after_the_reference_and_flags_the_shift(
        warehouse: Path) -> None:
    con = duckdb.connect(str(warehouse))
    out = feature_validation(*_relations(con), suite_dir=warehouse.parent / "expectations",
                             build_docs="false")
    con.close()
    assert out.schema == VALIDATION_SCHEMA
    frame = out.to_pandas()
    assert sorted({str(d) for d in frame["as_of_date"]}) == ["2026-01-04", "2026-01-05"]
    assert set(frame["model_version"]) == {"v1"} and set(frame["feature"]) == {"a", "b"}
    failed = frame[~frame["success"]]
    assert set(failed["feature"]) == {"a"}, failed
    assert {str(d) for d in failed["as_of_date"]} == {"2026-01-05"}


def test_validation_is_empty_without_active_model_reference_or_new_snapshot(
        warehouse: Path, tmp_path: Path) -> None:
    con = duckdb.connect(str(warehouse))
    features, versions, reference = _relations(con)
    suite = warehouse.parent / "expectations"
    no_active = versions.filter("status <> 'active'")
    assert feature_validation(features, no_active, reference, suite_dir=suite).num_rows == 0
    no_reference = reference.filter("model_version <> 'v1'")
    assert feature_validation(features, versions, no_reference, suite_dir=suite).num_rows == 0
    old_only = features.filter("as_of_date <= date '2026-01-03'")
    empty = feature_validation(old_only, versions, reference, suite_dir=suite)
    assert empty.num_rows == 0 and empty.schema == VALIDATION_SCHEMA
    con.close()
