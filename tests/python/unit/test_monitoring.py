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


def test_an_incremental_run_validates_the_last_date_again_and_newer_ones_only(
        warehouse: Path, tmp_path: Path) -> None:
    import shutil

    wh = tmp_path / "wh.duckdb"
    shutil.copy(warehouse, wh)
    con = duckdb.connect(str(wh))
    first = feature_validation(*_relations(con), suite_dir=warehouse.parent / "expectations",
                               build_docs="false")
    con.register("first", first)
    con.execute("create table mart as select * from first")
    # a replaced version's rows, and the 4th's rows made recognisable
    con.execute("insert into mart select * replace ('v0' as model_version) from first")
    con.execute("update mart set observed_json = 'old' where as_of_date = date '2026-01-04'")
    out = feature_validation(*_relations(con), suite_dir=warehouse.parent / "expectations",
                             build_docs="false", con=con, this="mart")
    # the 5th (the last validated date) again; the 4th is not re-validated
    assert {str(d) for d in out.column("as_of_date").to_pylist()} == {"2026-01-05"}
    assert con.execute("select distinct model_version from mart").fetchall() == [("v1",)]
    assert con.execute("select count(*) from mart where observed_json = 'old'").fetchall()[0][0] > 0
    con.close()


class _FakeDbt:
    """What the mon_feature_validation model uses of dbt's ``dbt`` object."""

    is_incremental = False
    this = None

    def __init__(self, con: duckdb.DuckDBPyConnection, config: dict[str, str]) -> None:
        self._con = con
        self.config = type("Config", (), {"__call__": lambda _self, **_kw: None,
                                          "get": lambda _self, key: config.get(key)})()

    def ref(self, name: str) -> duckdb.DuckDBPyRelation:
        assert name == "fct_account_features"
        return self._con.table("features")

    def source(self, schema: str, name: str) -> duckdb.DuckDBPyRelation:
        return self._con.table(f"{schema}.{name}")


def test_dbt_model_reports_a_missing_suite_in_one_line(
        warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """dbt prints the model's exception with ``traceback``: a missing suite is one line naming
    the cause, not GX's and botsift's chained tracebacks."""
    import importlib.util
    import sys
    import traceback

    monkeypatch.setattr(sys, "tracebacklimit", 1000, raising=False)  # restored afterwards
    path = Path(__file__).resolve().parents[3] / "models" / "monitoring" / "mon_feature_validation.py"
    spec = importlib.util.spec_from_file_location("mon_feature_validation", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    con = duckdb.connect(str(warehouse), read_only=True)
    dbt = _FakeDbt(con, {"suite_dir": str(tmp_path / "no_suites"), "build_data_docs": "false"})
    with pytest.raises(BotsiftError) as info:
        module.model(dbt, con)
    con.close()
    lines = "".join(traceback.format_exception(info.value)).strip().splitlines()
    assert len(lines) == 1 and "no GX suite features__v1" in lines[0], lines
    assert not (tmp_path / "no_suites").exists()   # a mistyped folder is not made a GX project


@pytest.mark.parametrize("value", ["-1", "thirty", "2.5"])
def test_a_bad_data_docs_keep_is_one_line(warehouse: Path, value: str) -> None:
    con = duckdb.connect(str(warehouse))
    with pytest.raises(BotsiftError, match=r"data_docs_keep must be a whole number >= 0 .*"
                       + value):
        feature_validation(*_relations(con), suite_dir=str(warehouse.parent / "expectations"),
                           build_docs="false", docs_keep=value)
