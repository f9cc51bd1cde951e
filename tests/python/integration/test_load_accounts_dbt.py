"""Bring your own accounts end to end: a CSV and a mapping through load-accounts and dbt.

The test writes its own messy fixture export (never ../shared/datasets), loads it with the CLI,
builds the feature and label marts with the event tables empty (account-metadata mode), and
checks that every clean account gets a feature row and its imported label, that the Python
mirror of the mart's metadata features matches the mart, and that evaluate runs on the
warehouse path.

Training and scoring the loaded accounts (``botsift train`` then scores) belongs to the
training branch; once it is in main, extend this test with ``train`` and the scores.
"""
from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from botsift.accounts_loader import load_mapping, parse_accounts
from botsift.cli import app
from botsift.evaluate_datasets import MART_FEATURES, evaluate, metadata_features
from botsift.project import run_dbt

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
MAPPING = """
name: fixture
key: {source: uid}
columns:
  created_at: {source: joined, day_first: true}
  screen_name: handle
  description: bio
  url: link
  followers_count: followers
  friends_count: following
  statuses_count: posts
  default_profile_image: egg
  verified: blue
  exported_at: {value: "2024-05-01 00:00:00"}
label: {source: is_bot, positive: ["1"], negative: ["0"]}
"""


def _write_export(folder: Path, n: int = 80, seed: int = 11) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    lines = ["uid,handle,bio,link,followers,following,posts,egg,blue,joined,is_bot"]
    for i in range(n):
        bot = i % 2
        age = int(rng.integers(5, 100) if bot else rng.integers(300, 3000))
        joined = pd.Timestamp("2024-05-01") - pd.Timedelta(days=age)
        when = (joined.strftime("%d/%m/%Y %H:%M") if i % 3 == 0
                else joined.strftime("%a %b %d %H:%M:%S +0000 %Y") if i % 3 == 1
                else joined.strftime("%Y-%m-%d %H:%M:%S"))
        handle = f"u{rng.integers(10**6, 10**7)}" if bot else f"nice_name_{chr(97 + i % 26)}"
        lines.append(",".join([
            str(1000 + i), handle, "" if bot else '"Ça va, café"',
            "" if bot else "http://example.org", str(rng.poisson(3 if bot else 400)),
            str(rng.poisson(900 if bot else 300)), str(rng.poisson(50)),
            "1" if bot and i % 4 == 1 else "", "TRUE" if (not bot and i % 10 == 0) else "FALSE",
            when, str(bot),
        ]))
    lines.append(lines[5])                                   # an exact duplicate
    lines.append(lines[6].rsplit(",", 1)[0] + ",1" if lines[6].endswith(",0")
                 else lines[6].rsplit(",", 1)[0] + ",0")     # the same id labelled both ways
    csv_path = folder / "export.csv"
    csv_path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    mapping = folder / "mapping.yml"
    mapping.write_text(MAPPING)
    return csv_path, mapping


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("byo")
    csv_path, mapping = _write_export(tmp)
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
    assert "rows read 82 = loaded 79 + quarantined 2 + collapsed duplicates 1" in output


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
    py = metadata_features(pd.DataFrame(parsed.accounts))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        mart = con.execute("select * from marts.fct_account_features").df().set_index("account_id")
    mart = mart.loc[py.index]
    for col in MART_FEATURES:
        np.testing.assert_allclose(py[col].to_numpy(), mart[col].astype("float64").to_numpy(),
                                   rtol=1e-9, atol=1e-12, err_msg=col)
    # no sign-up IPs in an export: the IP burst features must not count the whole export
    assert (mart["count_signup_ip_earlier_accounts"] == 0).all()


def test_evaluate_on_the_warehouse_path(built, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    tmp, csv_path, mapping, _, _ = built
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("DBT_PROFILES_DIR", str(REPO / "profiles"))
    r = evaluate([csv_path], load_mapping(mapping), folds=3, models=["logistic", "tree_depth4"],
                 feature_source="warehouse", workdir=tmp, n_jobs=1)
    assert r.feature_source == "warehouse" and r.rows_train == 79
    assert "count_posts_7d" in r.dropped_features           # no events: no information
    assert r.scores["with_verified"]["logistic"]["accuracy"] > 0.85
