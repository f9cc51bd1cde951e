"""Raw tables from a DuckDB warehouse into a local Spark metastore, for the dbt-spark target.

Two steps, each a thin CLI command:

1. :func:`export_raw` writes the six raw tables of a DuckDB warehouse (``botsift simulate`` or
   ``botsift load-accounts`` output) to one Parquet file each.
2. :func:`load_raw_into_spark` starts a local Spark session with Hive support, pointed at the
   same metastore and warehouse folder that dbt-spark's ``method: session`` uses, and copies
   each Parquet file into a managed table of the ``raw`` schema.

Where they land: dbt-spark in session mode starts Spark in the dbt process with the profile's
``server_side_parameters``; ``profiles/profiles.yml`` points ``spark.sql.warehouse.dir`` and
the Derby metastore at ``BOTSIFT_SPARK_DIR`` (default: the current directory, which is where
plain Spark would put them). The loader reads the same variable, so the two agree.

Only one JVM can hold an embedded Derby metastore at a time: the loader stops its session
before returning, and must not run while dbt does.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from botsift.errors import BotsiftError
from botsift.project import connect_warehouse
from botsift.schema import RAW_SCHEMA, RAW_TABLES

__all__ = ["SPARK_CONF", "spark_dir", "spark_conf", "export_raw", "load_raw_into_spark",
           "LoadedTable", "compare_with_duckdb", "TableComparison"]

log = logging.getLogger(__name__)

SPARK_CONF: dict[str, str] = {
    # Small on purpose: a laptop or a shared 2-core CI machine. Mirrors profiles/profiles.yml.
    "spark.driver.memory": "3g",
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.enabled": "false",
    # Raw timestamps are naive UTC: a UTC session makes casts to date and hour extraction
    # read them as they are, like DuckDB's TIMESTAMP.
    "spark.sql.session.timeZone": "UTC",
}


def spark_dir() -> Path:
    """Return the folder holding ``metastore_db/`` and ``spark-warehouse/``.

    ``BOTSIFT_SPARK_DIR`` when set, else the current directory (plain Spark's default, and
    where dbt-spark puts them when run from the project root).
    """
    return Path(os.environ.get("BOTSIFT_SPARK_DIR", ".")).resolve()


def spark_conf(root: Path | None = None) -> dict[str, str]:
    """Return the session settings: :data:`SPARK_CONF` plus metastore and warehouse paths.

    Parameters
    ----------
    root : Path, optional
        Folder for ``metastore_db/`` and ``spark-warehouse/`` (default :func:`spark_dir`).

    Returns
    -------
    dict
        Spark configuration keys and values.
    """
    root = (root or spark_dir()).resolve()
    return {
        **SPARK_CONF,
        "spark.sql.warehouse.dir": str(root / "spark-warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL":
            f"jdbc:derby:;databaseName={root / 'metastore_db'};create=true",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={root}",
    }


def export_raw(warehouse: Path, out_dir: Path, schema: str = RAW_SCHEMA) -> dict[str, int]:
    """Write every raw table of a DuckDB warehouse to ``out_dir/<table>.parquet``.

    Parameters
    ----------
    warehouse : Path
        The DuckDB warehouse file.
    out_dir : Path
        Destination folder (created; existing files of the same name are replaced).
    schema : str
        Schema holding the raw tables.

    Returns
    -------
    dict
        Rows written per table.

    Raises
    ------
    BotsiftError
        If the warehouse does not exist or lacks a raw table.
    """
    con = connect_warehouse(warehouse, read_only=True)
    counts: dict[str, int] = {}
    try:
        present = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = ?", [schema]
        ).fetchall()}
        missing = sorted(set(RAW_TABLES) - present)
        if missing:
            raise BotsiftError(f"{warehouse} has no {schema}.{', '.join(missing)}: "
                               "load or simulate the raw tables first")
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BotsiftError(f"cannot export to {out_dir}: {exc.strerror or exc}") from None
        for table in RAW_TABLES:
            target = out_dir / f"{table}.parquet"
            # Column order of the contract, not of the file: Spark tables match by name anyway.
            cols = ", ".join(f'"{f.name}"' for f in RAW_TABLES[table])
            try:
                con.execute(f"copy (select {cols} from {schema}.{table}) to '{target}' "
                            "(format parquet, compression zstd)")
            except duckdb.IOException as exc:
                raise BotsiftError(f"cannot write {target}: {str(exc).splitlines()[0]}") from None
            counts[table] = _count(con, f"{schema}.{table}")
            log.info("%s.%s: %d rows -> %s", schema, table, counts[table], target)
    finally:
        con.close()
    return counts


@dataclass(frozen=True)
class LoadedTable:
    """One raw table registered in the Spark metastore."""

    table: str
    rows: int


def _session(root: Path) -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # the spark extra is optional
        raise BotsiftError(
            "pyspark is not installed: pip install -e '.[spark]' (dbt-spark[session], pyspark)"
        ) from exc
    builder = SparkSession.builder.appName("botsift-load-raw").master("local[2]")
    for key, value in spark_conf(root).items():
        builder = builder.config(key, value)
    return builder.enableHiveSupport().getOrCreate()


def load_raw_into_spark(parquet_dir: Path, root: Path | None = None,
                        schema: str = RAW_SCHEMA) -> list[LoadedTable]:
    """Copy ``parquet_dir/<table>.parquet`` into managed tables ``<schema>.<table>`` in Spark.

    Tables are replaced (a reload is idempotent). Parquet's naive timestamps are read by
    Spark as ``TIMESTAMP_NTZ``; they are cast to ``TIMESTAMP`` in the UTC session, so staging
    sees the same types it would get from any other Spark loader.

    Parameters
    ----------
    parquet_dir : Path
        Folder written by :func:`export_raw`.
    root : Path, optional
        Folder for ``metastore_db/`` and ``spark-warehouse/`` (default :func:`spark_dir`).
    schema : str
        Spark database to create the tables in (dbt var ``raw_schema``).

    Returns
    -------
    list of LoadedTable
        The tables and their row counts.

    Raises
    ------
    BotsiftError
        If pyspark is missing or a Parquet file is absent.
    """
    missing = [t for t in RAW_TABLES if not (parquet_dir / f"{t}.parquet").exists()]
    if missing:
        raise BotsiftError(f"{parquet_dir} lacks {', '.join(m + '.parquet' for m in missing)}: "
                           "run `botsift export-raw` first")
    root = (root or spark_dir()).resolve()
    root.mkdir(parents=True, exist_ok=True)
    spark = _session(root)
    loaded: list[LoadedTable] = []
    try:
        spark.sql(f"create database if not exists {schema}")
        for table in RAW_TABLES:
            df = spark.read.parquet(str((parquet_dir / f"{table}.parquet").resolve()))
            df = df.select(*[
                df[name].cast("timestamp").alias(name) if dtype == "timestamp_ntz" else df[name]
                for name, dtype in df.dtypes
            ])
            df.write.mode("overwrite").format("parquet").saveAsTable(f"{schema}.{table}")
            loaded.append(LoadedTable(table, spark.table(f"{schema}.{table}").count()))
            log.info("spark %s.%s: %d rows", schema, table, loaded[-1].rows)
    finally:
        spark.stop()
    return loaded


@dataclass(frozen=True)
class TableComparison:
    """One relation built on both engines: row counts and, when compared, differing columns."""

    relation: str
    duckdb_rows: int
    spark_rows: int | None
    compared_values: bool
    differing_columns: tuple[str, ...] = ()
    note: str = ""

    @property
    def ok(self) -> bool:
        """Same row count and, where the values were compared, no differing column."""
        return self.duckdb_rows == self.spark_rows and not self.differing_columns


COMPARED_SCHEMAS = ("staging", "intermediate", "marts", "reference")

VALUE_EXEMPT_COLUMNS: dict[str, str] = {
    # Each engine serializes a row to JSON its own way (key order, spacing, timestamp text);
    # the row counts and every other column of the quarantine table are still compared.
    "raw_row": "engine-specific JSON text",
}


def _count(con: Any, relation: str) -> int:
    row = con.execute(f"select count(*) from {relation}").fetchone()
    return int(row[0]) if row else 0


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _normalize(df: Any) -> Any:
    """Column names lower-cased; dates, timestamps, decimals and booleans in one form each."""
    import datetime as dt
    import decimal

    import pandas as pd

    df = df.rename(columns=str.lower)
    out = {}
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            out[col] = s.astype("float64")
        elif pd.api.types.is_datetime64_any_dtype(s):
            out[col] = s.map(lambda v: None if pd.isna(v) else pd.Timestamp(v).isoformat())
        else:
            def conv(v: Any) -> Any:
                if v is None or (isinstance(v, float) and v != v):
                    return None
                if isinstance(v, bool):
                    return float(v)
                if isinstance(v, decimal.Decimal | int):
                    return float(v)
                if isinstance(v, dt.datetime):
                    return pd.Timestamp(v).isoformat()
                if isinstance(v, dt.date):
                    return pd.Timestamp(v).isoformat()
                if hasattr(v, "tolist"):
                    return str(v.tolist())
                if isinstance(v, list | tuple):
                    return str(list(v))
                return v
            vals = s.map(conv)
            if len(vals) and all(isinstance(v, float) or v is None for v in vals):
                out[col] = vals.astype("float64")
            else:
                out[col] = vals.astype("string")
    return pd.DataFrame(out)


def _differing_columns(a: Any, b: Any, rtol: float, atol: float) -> list[str]:
    """Columns whose values differ between two normalized frames of the same rows."""
    import numpy as np
    import pandas as pd

    cols = sorted(c for c in a.columns if c not in VALUE_EXEMPT_COLUMNS)
    text = [c for c in cols if not pd.api.types.is_float_dtype(a[c])]
    floats = [c for c in cols if pd.api.types.is_float_dtype(a[c])]
    # Order both by every text column and the floats rounded, so that rows pair up even
    # when floats differ in the last bits.
    def ordered(df: Any) -> Any:
        keyed = df.copy()
        for c in floats:
            keyed["__r_" + c] = keyed[c].round(6)
        by = text + ["__r_" + c for c in floats]
        return keyed.sort_values(by, na_position="last", kind="mergesort").reset_index(drop=True) if by else keyed
    a, b = ordered(a), ordered(b)
    bad = []
    for c in cols:
        if c not in b.columns:
            bad.append(c)
        elif c in floats and pd.api.types.is_float_dtype(b[c]):
            x, y = a[c].to_numpy(dtype="float64"), b[c].to_numpy(dtype="float64")
            if not np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True):
                bad.append(c)
        elif not a[c].astype("string").fillna("<null>").equals(b[c].astype("string").fillna("<null>")):
            bad.append(c)
    return bad


def _duckdb_counts(con: duckdb.DuckDBPyConnection, warehouse: Path,
                   schemas: tuple[str, ...]) -> dict[str, int]:
    """Row count of every table and view of ``schemas`` in the DuckDB warehouse, by name.

    Run before Spark starts, so a relation DuckDB cannot read (a view of an older build
    naming a catalog that is not there) fails in seconds, not after a JVM start.

    Raises
    ------
    BotsiftError
        Naming the first relation DuckDB cannot read.
    """
    placeholders = ", ".join("?" for _ in schemas)
    relations = con.execute(
        "select table_schema, table_name from information_schema.tables "
        f"where table_schema in ({placeholders}) order by 1, 2", list(schemas)).fetchall()
    counts: dict[str, int] = {}
    for schema, name in relations:
        rel = f"{schema}.{name}"
        try:
            counts[rel] = _count(con, rel)
        except duckdb.Error as exc:
            raise BotsiftError(f"{rel} cannot be read in {warehouse}: "
                               f"{str(exc).splitlines()[0]}; rebuild it with `dbt build`") from None
    return counts


def compare_with_duckdb(warehouse: Path, root: Path | None = None,
                        schemas: tuple[str, ...] = COMPARED_SCHEMAS,
                        rtol: float = 1e-9, atol: float = 1e-9) -> list[TableComparison]:
    """Compare every dbt relation of a DuckDB warehouse with the same relation built on Spark.

    Row counts of every table and view in ``schemas``, and every value (floats within
    ``rtol``/``atol``, other columns exactly, rows paired by sorting on all columns; see
    :data:`VALUE_EXEMPT_COLUMNS`).

    Parameters
    ----------
    warehouse : Path
        The DuckDB warehouse the same raw data was built in.
    root : Path, optional
        Folder of the Spark metastore and warehouse (default :func:`spark_dir`).
    schemas : tuple of str
        dbt schemas to compare.
    rtol, atol : float
        Tolerances for floating-point columns.

    Returns
    -------
    list of TableComparison
        One per relation, in schema and name order.
    """
    root = (root or spark_dir()).resolve()
    con = connect_warehouse(warehouse, read_only=True)
    results: list[TableComparison] = []
    try:
        counts = _duckdb_counts(con, warehouse, schemas)
        spark = _session(root)
        try:
            for rel, n_duck in counts.items():
                if not spark.catalog.tableExists(rel):
                    results.append(TableComparison(rel, n_duck, None, False, note="not built on Spark"))
                    continue
                sdf = spark.table(rel)
                n_spark = sdf.count()
                if n_duck != n_spark:
                    results.append(TableComparison(rel, n_duck, n_spark, False))
                    continue
                # Timestamps as text on each side: pandas' nanosecond timestamps end in 2262, and
                # the quarantine keeps rows from the far future on purpose.
                duck_cols = [
                    f"strftime({_q(c)}, '%Y-%m-%dT%H:%M:%S.%f') as {_q(c)}"
                    if t.upper().startswith("TIMESTAMP") else _q(c)
                    for c, t, *_ in con.execute(f"describe select * from {rel}").fetchall()
                ]
                a = _normalize(con.execute(f"select {', '.join(duck_cols)} from {rel}").df())
                spark_cols = [
                    f"date_format(`{c}`, \"yyyy-MM-dd'T'HH:mm:ss.SSSSSS\") as `{c}`"
                    if t.startswith("timestamp") else f"`{c}`"
                    for c, t in sdf.dtypes
                ]
                b = _normalize(sdf.selectExpr(*spark_cols).toPandas())
                diff = _differing_columns(a, b, rtol, atol)
                missing = sorted(set(a.columns) ^ set(b.columns))
                exempt = sorted(set(a.columns) & set(VALUE_EXEMPT_COLUMNS))
                note = "; ".join(filter(None, [
                    f"columns on one engine only: {', '.join(missing)}" if missing else "",
                    ", ".join(f"{c} not compared ({VALUE_EXEMPT_COLUMNS[c]})" for c in exempt),
                ]))
                results.append(TableComparison(rel, n_duck, n_spark, True,
                                               tuple(sorted(set(diff) | set(missing))), note))
                log.info("%s: %d rows, %s", rel, n_duck, "same" if results[-1].ok else "DIFFERENT")
        finally:
            spark.stop()
    finally:
        con.close()
    return results
