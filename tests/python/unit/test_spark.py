"""The Spark module's DuckDB side: exporting the raw tables, and the DuckDB checks of the
comparison that run before Spark starts (no Spark session needed)."""
from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

import botsift.spark
from botsift.errors import BotsiftError
from botsift.schema import RAW_TABLES
from botsift.spark import compare_with_duckdb, export_raw


def _warehouse(tmp_path: Path, tables: list[str]) -> Path:
    wh = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(wh))
    con.execute("create schema raw")
    for table in tables:
        cols = ", ".join(f'"{f.name}" varchar' for f in RAW_TABLES[table])
        con.execute(f"create table raw.{table} ({cols})")
    con.close()
    return wh


def test_export_writes_every_raw_table_with_its_count(tmp_path: Path) -> None:
    wh = _warehouse(tmp_path, list(RAW_TABLES))
    counts = export_raw(wh, tmp_path / "out")
    assert counts == dict.fromkeys(RAW_TABLES, 0)
    for table in RAW_TABLES:
        names = pq.read_schema(tmp_path / "out" / f"{table}.parquet").names
        assert names == [f.name for f in RAW_TABLES[table]]


def test_missing_tables_and_unwritable_targets_are_named(tmp_path: Path) -> None:
    partial = _warehouse(tmp_path, ["accounts"])
    with pytest.raises(BotsiftError, match=r"has no raw\.follows, interactions, .*: load or simulate"):
        export_raw(partial, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing made before the check
    partial.unlink()
    wh = _warehouse(tmp_path, list(RAW_TABLES))
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(BotsiftError, match=r"cannot export to .*a_file: File exists"):
        export_raw(wh, tmp_path / "a_file")


def test_comparison_names_an_unreadable_duckdb_relation_before_spark_starts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wh = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(wh))
    con.execute("create schema marts")
    con.execute("create table marts.fct_ok as select 1 as x")
    # a view as an older build wrote it: bound to the catalog name of another file
    con.execute("attach ':memory:' as elsewhere")
    con.execute("create table elsewhere.main.t as select 1 as x")
    con.execute("create view marts.fct_stale as select * from elsewhere.main.t")
    con.close()

    def no_spark(root: Path) -> None:
        raise AssertionError("Spark started before the DuckDB side was checked")

    monkeypatch.setattr(botsift.spark, "_session", no_spark)
    with pytest.raises(BotsiftError, match=r"^marts\.fct_stale cannot be read in .*wh\.duckdb: "
                       r".*elsewhere.*; rebuild it with `dbt build`$"):
        compare_with_duckdb(wh, root=tmp_path / "spark")
