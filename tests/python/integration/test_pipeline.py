"""End to end on a small simulated platform: simulate, dbt build, and check the marts."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest

from botsift.project import run_dbt
from botsift.simulate import SimulationConfig, simulate_platform

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def built_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("pipeline")
    wh = tmp / "wh.duckdb"
    simulate_platform(SimulationConfig(n_accounts=4_000, days=12, seed=7, drift_day=None), wh)
    old = os.environ.get("BOTSIFT_WAREHOUSE")
    os.environ["BOTSIFT_WAREHOUSE"] = str(wh)
    try:
        run_dbt(["build", "--selector", "training", "--target-path", str(tmp / "target")], ROOT, quiet=True)
    finally:
        if old is None:
            os.environ.pop("BOTSIFT_WAREHOUSE", None)
        else:
            os.environ["BOTSIFT_WAREHOUSE"] = old
    shutil.copy(tmp / "target" / "manifest.json", tmp / "manifest.json")
    return wh


def test_features_have_one_row_per_account_per_day(built_warehouse: Path) -> None:
    con = duckdb.connect(str(built_warehouse), read_only=True)
    n_accounts, n_days, n_rows, n_dupes = con.sql(
        "select count(distinct account_id), count(distinct as_of_date), count(*), "
        "count(*) - count(distinct (account_id, as_of_date)) from marts.fct_account_features"
    ).fetchone()
    assert n_days == 12 and n_dupes == 0
    assert n_accounts == con.sql("select count(*) from staging.stg_platform__accounts").fetchone()[0]
    # every account has a row for each day from its creation on, not more
    expected = con.sql(
        "select sum(1 + date_diff('day', greatest(cast(created_at as date), d.lo), d.hi)) "
        "from staging.stg_platform__accounts, (select min(as_of_date) lo, max(as_of_date) hi "
        "from marts.fct_account_features) d"
    ).fetchone()[0]
    assert n_rows == expected


def test_training_examples_have_both_classes_in_every_split(built_warehouse: Path) -> None:
    con = duckdb.connect(str(built_warehouse), read_only=True)
    rows = con.sql("select split, sum(label), count(*) from marts.ml_training_examples group by split").fetchall()
    assert {r[0] for r in rows} == {"train", "validation", "test"}
    for split, positives, total in rows:
        assert 0 < positives < total, split


def test_raw_rows_reconcile_with_clean_and_quarantined(built_warehouse: Path) -> None:
    con = duckdb.connect(str(built_warehouse), read_only=True)
    for raw, stg in [("accounts", "stg_platform__accounts"), ("posts", "stg_platform__posts"),
                     ("logins", "stg_platform__logins"), ("follows", "stg_platform__follows"),
                     ("interactions", "stg_platform__interactions"), ("ops_reviews", "stg_ops__reviews")]:
        n_raw = con.sql(f"select count(*) from raw.{raw}").fetchone()[0]
        n_clean = con.sql(f"select count(*) from staging.{stg}").fetchone()[0]
        n_quarantined = con.sql(
            f"select count(*) from staging.stg_raw__quarantined_rows where source_table = '{raw}'"
        ).fetchone()[0]
        assert n_raw == n_clean + n_quarantined, raw
