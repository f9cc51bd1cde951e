"""The raw-table contract: DuckDB DDL, Arrow schemas and the dbt source YAML agree."""
from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import yaml

from botsift.schema import RAW_TABLES, raw_ddl

ROOT = Path(__file__).resolve().parents[3]
SOURCES = {
    **dict.fromkeys(["accounts", "posts", "logins", "follows", "interactions"],
                    "models/staging/platform/_platform__sources.yml"),
    "ops_reviews": "models/staging/ops/_ops__sources.yml",
}


@pytest.mark.parametrize("table", sorted(RAW_TABLES))
def test_raw_ddl_creates_the_arrow_schema(table: str) -> None:
    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute(raw_ddl(table))
    con.execute(raw_ddl(table))  # if not exists: a second loader run keeps the table
    empty = RAW_TABLES[table].empty_table()
    con.register("incoming", empty)
    con.execute(f"insert into raw.{table} select * from incoming")
    read = con.execute(f"select * from raw.{table}").arrow()
    read = read.read_all() if isinstance(read, pa.RecordBatchReader) else read
    assert read.schema.names == RAW_TABLES[table].names
    for field in RAW_TABLES[table]:
        assert read.schema.field(field.name).type == field.type, field.name


def test_raw_ddl_rejects_an_unknown_table() -> None:
    with pytest.raises(KeyError):
        raw_ddl("tweets")


@pytest.mark.parametrize("table", sorted(RAW_TABLES))
def test_source_yaml_documents_every_raw_column_in_order(table: str) -> None:
    doc = yaml.safe_load((ROOT / SOURCES[table]).read_text())
    tables = {t["name"]: t for s in doc["sources"] for t in s["tables"]}
    documented = [c["name"] for c in tables[table]["columns"]]
    assert documented == RAW_TABLES[table].names
    assert all(c.get("description") for c in tables[table]["columns"])
