"""The registry DDL dbt runs on-run-start matches the DDL Python writes with."""
from __future__ import annotations

import re
from pathlib import Path

import duckdb

from botsift.registry_tables import REGISTRY_DDL, ensure_registry_tables

MACRO = Path(__file__).resolve().parents[3] / "macros" / "create_registry_tables.sql"

SCHEMA_SQL = """
    select table_name, column_name, data_type, is_nullable
    from information_schema.columns where table_schema = 'registry'
    order by table_name, ordinal_position
"""
KEYS_SQL = """
    select table_name, constraint_type, constraint_column_names
    from duckdb_constraints() where schema_name = 'registry' and constraint_type = 'PRIMARY KEY'
    order by table_name
"""


def _macro_duckdb_ddl() -> str:
    text = MACRO.read_text()
    body = re.search(r"\{% macro default__create_registry_tables\(\) %\}(.*?)\{% endmacro %\}",
                     text, re.S)
    assert body, "default__create_registry_tables not found"
    return re.sub(r"\{#.*?#\}", "", body.group(1), flags=re.S)


def _describe(con: duckdb.DuckDBPyConnection, tables: set[str]) -> tuple[list, list]:
    cols = [r for r in con.execute(SCHEMA_SQL).fetchall() if f"registry.{r[0]}" in tables]
    keys = [r for r in con.execute(KEYS_SQL).fetchall() if f"registry.{r[0]}" in tables]
    return cols, keys


def test_dbt_macro_creates_the_python_registry_tables() -> None:
    from_dbt = duckdb.connect()
    from_dbt.execute(_macro_duckdb_ddl())
    made_by_dbt = {f"registry.{r[0]}" for r in from_dbt.execute(
        "select table_name from information_schema.tables where table_schema = 'registry'").fetchall()}
    assert made_by_dbt == {"registry.model_versions", "registry.feature_reference",
                           "registry.feature_reference_bins"}
    from_python = duckdb.connect()
    ensure_registry_tables(from_python)
    assert set(REGISTRY_DDL) >= made_by_dbt
    dbt_cols, dbt_keys = _describe(from_dbt, made_by_dbt)
    py_cols, py_keys = _describe(from_python, made_by_dbt)
    assert dbt_cols == py_cols
    assert dbt_keys == py_keys
    assert len(dbt_cols) > 30 and len(dbt_keys) == 3


def test_ensure_registry_tables_is_idempotent_and_keeps_rows() -> None:
    con = duckdb.connect()
    ensure_registry_tables(con, ("registry.model_events",))
    con.execute("insert into registry.model_events values (1, 'v1', 'global', null, 'active', 'x', now())")
    ensure_registry_tables(con)
    assert con.execute("select count(*) from registry.model_events").fetchall() == [(1,)]
