"""The same SQL on Spark: a tiny simulated platform built on DuckDB and on dbt-spark (session).

Simulate into DuckDB (plus a few hand-made bad raw rows, so the quarantine has work, and ten
accounts with platform-scale ids), build
`--selector training` there, export the raw tables to Parquet, load them into a local Spark
metastore, build the same selector with dbt-spark, then compare every staging, intermediate
and mart relation: row counts and values (floats within 1e-9).

Slow (each dbt-spark invocation starts a JVM and a Derby metastore; a few minutes on two
cores) and needs the `spark` extra and Java: run with `pytest -m spark`.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from botsift.project import run_dbt
from botsift.simulate import SimulationConfig, simulate_platform
from botsift.spark import export_raw

pytestmark = [
    pytest.mark.integration,
    pytest.mark.spark,
    pytest.mark.skipif(importlib.util.find_spec("pyspark") is None,
                       reason="pyspark is not installed (pip install -e '.[spark]')"),
    pytest.mark.skipif(importlib.util.find_spec("dbt.adapters.spark") is None,
                       reason="dbt-spark is not installed (pip install -e '.[spark]')"),
    pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java (17) on PATH"),
]

ROOT = Path(__file__).resolve().parents[3]
FUTURE = datetime(2999, 1, 1)


def _add_bad_raw_rows(wh: Path) -> int:
    """A few rows of each quarantine kind, so staging's rules run on both engines."""
    con = duckdb.connect(str(wh))
    statements = [
        # duplicate account id, exported later (the earlier copy is quarantined)
        "insert into raw.accounts select * replace (_loaded_at + interval 1 hour as _loaded_at) "
        "from raw.accounts where id = 1",
        "insert into raw.accounts select * replace (null as id) from raw.accounts where id = 2",
        "insert into raw.accounts select * replace (-id as id, -5 as followers_count) "
        "from raw.accounts where id = 3",
        "insert into raw.accounts select * replace (-id as id, 'mars' as region) "
        "from raw.accounts where id = 4",
        "insert into raw.posts select * replace (-id as id, 'bad \ufffd text' as text) "
        "from raw.posts limit 1",
        "insert into raw.posts select * replace (-id as id, -999 as account_id) from raw.posts limit 1",
        f"insert into raw.logins select * replace (-id as id, timestamp '{FUTURE}' as attempted_at) "
        "from raw.logins limit 1",
        "insert into raw.follows select * replace (-id as id, null as created_at) from raw.follows limit 1",
        "insert into raw.interactions select * replace (-id as id, 'poke' as action) "
        "from raw.interactions limit 1",
        "insert into raw.interactions select * replace (-id as id, -1 as post_id) "
        "from raw.interactions limit 1",
    ]
    for s in statements:
        con.execute(s)
    con.close()
    return len(statements)


def _add_platform_scale_ids(wh: Path) -> int:
    """Ten valid accounts with ids of a real platform's size (Twitter's reach about 1.5e18).

    Their sum overflows a bigint: the staging reconcile test sums ids, and Spark's ANSI mode
    (its default since Spark 4) would make that an error. dbt-spark turns ANSI mode off, so
    the sums wrap on both sides of the check alike; these rows keep it that way, and take
    such ids through hashing and clustering on both engines."""
    con = duckdb.connect(str(wh))
    con.execute("insert into raw.accounts select * replace (id + 1400000000000000000 as id) "
                "from raw.accounts where id between 10 and 19")
    con.close()
    return 10


def _botsift(args: list[str], env: dict[str, str]) -> None:
    """Run the CLI in a subprocess: one JVM per step, so Derby's lock is free for the next."""
    out = subprocess.run([sys.executable, "-m", "botsift.cli", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("spark")
    wh = tmp / "wh.duckdb"
    simulate_platform(SimulationConfig(n_accounts=500, days=5, seed=11, drift_day=None), wh)
    _add_bad_raw_rows(wh)
    _add_platform_scale_ids(wh)
    export_raw(wh, tmp / "raw")

    saved = {k: os.environ.get(k) for k in ("BOTSIFT_WAREHOUSE", "BOTSIFT_TARGET", "BOTSIFT_SPARK_DIR")}
    try:
        os.environ["BOTSIFT_WAREHOUSE"] = str(wh)
        run_dbt(["build", "--selector", "training", "--target-path", str(tmp / "target-duckdb")],
                ROOT, quiet=True)
        os.environ["BOTSIFT_SPARK_DIR"] = str(tmp / "spark")
        env = {**os.environ, "DO_NOT_TRACK": "1"}
        _botsift(["spark-load", str(tmp / "raw")], env)
        os.environ["BOTSIFT_TARGET"] = "spark"
        run_dbt(["build", "--selector", "training", "--target-path", str(tmp / "target-spark")],
                ROOT, quiet=True)
        os.environ.pop("BOTSIFT_TARGET")
        _botsift(["spark-compare", "--warehouse", str(wh), "--json", str(tmp / "cmp.json")],
                 {**os.environ, "DO_NOT_TRACK": "1"})
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return {r["relation"]: r for r in json.loads((tmp / "cmp.json").read_text())}


def test_every_relation_is_built_on_spark_with_the_same_rows(comparison: dict[str, dict]) -> None:
    for name in ("staging.stg_platform__posts", "staging.stg_raw__quarantined_rows",
                 "intermediate.int_accounts__daily_activity", "marts.fct_account_features",
                 "marts.fct_account_labels", "marts.ml_class_balance", "marts.ml_training_examples"):
        assert name in comparison, name
    not_same = {k: v for k, v in comparison.items() if v["duckdb_rows"] != v["spark_rows"]}
    assert not not_same


def test_feature_and_training_tables_are_identical(comparison: dict[str, dict]) -> None:
    for name in ("marts.fct_account_features", "marts.ml_training_examples"):
        r = comparison[name]
        assert r["compared_values"] and r["duckdb_rows"] > 0
        assert r["differing_columns"] == [], name


def test_every_value_is_the_same(comparison: dict[str, dict]) -> None:
    differ = {k: v["differing_columns"] for k, v in comparison.items() if v["differing_columns"]}
    assert not differ


def test_quarantine_caught_the_bad_rows_on_both_engines(comparison: dict[str, dict]) -> None:
    # one per bad row; for the duplicated account, the earlier copy
    assert comparison["staging.stg_raw__quarantined_rows"]["duckdb_rows"] == 10
    assert comparison["staging.stg_raw__quarantined_rows"]["spark_rows"] == 10
