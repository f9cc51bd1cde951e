"""Bring your own accounts end to end: a CSV and a mapping through load-accounts and dbt.

The test writes its own messy fixture export (never ../shared/datasets), loads it with the CLI,
builds the feature and label marts with the event tables empty (account-metadata mode), and
checks that every clean account gets a feature row and its imported label, that the Python
mirror of the mart's metadata features matches the mart (the accounts staging quarantines
left out of both, for the same reasons), and that evaluate runs on the warehouse path.

Training and scoring the loaded accounts is ``test_byo_scores_dbt.py``.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from account_fixtures import STAGING_REJECTS
from account_fixtures import write_account_export as _write_export
from botsift.accounts_loader import load_mapping, parse_accounts
from botsift.cli import app
from botsift.evaluate_datasets import MART_FEATURES, evaluate, metadata_features, staging_quarantine
from botsift.project import run_dbt

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("byo")
    csv_path, mapping = _write_export(tmp, staging_rejects=True)
    warehouse = tmp / "warehouse.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BOTSIFT_WAREHOUSE", str(warehouse))
        mp.setenv("DBT_PROFILES_DIR", str(REPO / "profiles"))
        mp.chdir(REPO)
        res = CliRunner().invoke(app, ["load-accounts", str(csv_path), "--mapping", str(mapping)])
        assert res.exit_code == 0, res.output
        run_dbt(["build", "--select", "+fct_account_features", "+fct_account_labels",
                 "--indirect-selection", "cautious", "--target-path", str(tmp / "target"),
                 "--log-path", str(tmp / "logs")], root=REPO, quiet=True)
    return tmp, csv_path, mapping, warehouse, res.output


def test_load_summary_reconciles(built) -> None:  # type: ignore[no-untyped-def]
    *_, output = built
    assert "rows read 84 = loaded 81 + quarantined 2 + collapsed duplicates 1" in output


def test_every_clean_account_has_features_and_its_label(built) -> None:  # type: ignore[no-untyped-def]
    _, _, _, warehouse, _ = built
    with duckdb.connect(str(warehouse), read_only=True) as con:
        feats = con.execute("select account_id, as_of_date from marts.fct_account_features").fetchall()
        labels = con.execute("""
            select l.account_id, l.label, l.label_source
            from marts.fct_account_labels as l
            inner join marts.fct_account_features as f
                on l.account_id = f.account_id and l.example_as_of_date = f.as_of_date
        """).fetchall()
    assert len(feats) == 79 and {d for _, d in feats} == {pd.Timestamp("2024-05-01").date()}
    assert len(labels) == 79
    assert {s for _, _, s in labels} == {"ops_suspended", "ops_cleared"}


def test_python_features_mirror_the_mart(built) -> None:  # type: ignore[no-untyped-def]
    _, csv_path, mapping, warehouse, _ = built
    parsed = parse_accounts([csv_path], load_mapping(mapping))
    accounts = pd.DataFrame(parsed.accounts)
    reasons = staging_quarantine(accounts)
    py = metadata_features(accounts[reasons.isna().to_numpy()])
    with duckdb.connect(str(warehouse), read_only=True) as con:
        mart = con.execute("select * from marts.fct_account_features").df().set_index("account_id")
        staged = dict(con.execute("""
            select id, quarantine_reason from staging.base_platform__accounts
            where quarantine_reason is not null
        """).fetchall())
    # the same accounts left out, for the same reasons, on both paths
    assert staged == STAGING_REJECTS
    assert dict(zip(accounts["id"], reasons, strict=True)) == {
        **dict.fromkeys(accounts["id"]), **STAGING_REJECTS}
    assert sorted(py.index) == sorted(mart.index)
    mart = mart.loc[py.index]
    for col in MART_FEATURES:
        np.testing.assert_allclose(py[col].to_numpy(), mart[col].astype("float64").to_numpy(),
                                   rtol=1e-9, atol=1e-12, err_msg=col)
    # one snapshot (the latest crawl), but each account is aged at its own crawl: the humans,
    # crawled 107 days before the bots, must not get 107 days older for it
    with duckdb.connect(str(warehouse), read_only=True) as con:
        aged = con.execute("""
            select f.account_age_days, date_diff('day', cast(a.created_at as date),
                                                 cast(a.exported_at as date)), f.as_of_date
            from marts.fct_account_features as f
            inner join staging.stg_platform__accounts as a on f.account_id = a.account_id
        """).fetchall()
    assert all(age == own for age, own, _ in aged)
    assert {d for *_, d in aged} == {pd.Timestamp("2024-05-01").date()}
    assert (mart["count_likes"] > 0).any() and (mart["display_name_length"] > 0).all()
    # no sign-up IPs in an export: the IP burst features must not count the whole export
    assert (mart["count_signup_ip_earlier_accounts"] == 0).all()


def test_evaluate_on_the_warehouse_path(built, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    tmp, csv_path, mapping, _, _ = built
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("DBT_PROFILES_DIR", str(REPO / "profiles"))
    r = evaluate([csv_path], load_mapping(mapping), folds=3, models=["logistic", "tree_depth4"],
                 feature_source="warehouse", workdir=tmp, n_jobs=1)
    assert r.feature_source == "warehouse" and r.rows_train == 79
    # without a workdir its temporary warehouse and dbt target go once read
    monkeypatch.setattr(tempfile, "tempdir", str(tmp / "scratch"))
    (tmp / "scratch").mkdir()
    evaluate([csv_path], load_mapping(mapping), folds=3, models=["logistic"],
             feature_source="warehouse", n_jobs=1)
    assert list((tmp / "scratch").iterdir()) == []
    # the python path leaves out the accounts staging quarantines too, and says so
    py = evaluate([csv_path], load_mapping(mapping), folds=3, models=["logistic"],
                  feature_source="python", n_jobs=1)
    assert py.rows_train == 79
    assert any("staging rules quarantined 2 accounts" in line for line in py.load_lines)
    assert "count_posts_7d" in r.dropped_features           # no events: no information
    assert r.scores["with_verified"]["logistic"]["accuracy"] > 0.85
