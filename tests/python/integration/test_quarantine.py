"""Staging quarantine end to end: hand-made raw rows through ``dbt build`` on a temp warehouse.

Every bad kind of row must land in ``stg_raw__quarantined_rows`` with its reason, every clean row
in staging, and raw rows = clean + quarantined per table. A second run on a damaged copy of the
warehouse checks that the reconciliation and identifier tests really fail.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from botsift.errors import BotsiftError
from botsift.project import run_dbt
from botsift.schema import RAW_SCHEMA, RAW_TABLES, raw_ddl

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
SALT = "test-salt"

T0 = datetime(2024, 3, 1, 12, 0)
LOADED_EARLY = datetime(2024, 6, 1)
LOADED_LATE = datetime(2024, 6, 2)
FUTURE = datetime(2999, 1, 1)
PRE_LAUNCH = datetime(2001, 1, 1)


def _account(id_, **kw):
    row = {
        "id": id_,
        "created_at": T0,
        "region": "na",
        "signup_ip": f"10.0.0.{id_}",
        "signup_device": f"dev-{id_}",
        "signup_client": "web",
        "screen_name": f"user{id_}",
        "name": f"User {id_}",
        "description": "hello\tworld\n",
        "default_profile_image": False,
        "verified": False,
        "lang": "en",
        "url": None,
        "followers_count": 1,
        "friends_count": 2,
        "statuses_count": 3,
        "favourites_count": 4,
        "listed_count": 0,
        "exported_at": T0,
        "_loaded_at": LOADED_EARLY,
    }
    row.update(kw)
    return row


def _post(id_, account_id, **kw):
    row = {
        "id": id_,
        "account_id": account_id,
        "created_at": T0,
        "text": "a post",
        "in_reply_to_post_id": None,
        "mentioned_account_ids": [],
        "_loaded_at": LOADED_EARLY,
    }
    row.update(kw)
    return row


def _login(id_, account_id, **kw):
    row = {
        "id": id_,
        "account_id": account_id,
        "attempted_at": T0,
        "ip": "192.168.1.1",
        "device_id": "dev-x",
        "result": "success",
        "_loaded_at": LOADED_EARLY,
    }
    row.update(kw)
    return row


def _follow(id_, follower_id, followee_id, **kw):
    row = {
        "id": id_,
        "follower_id": follower_id,
        "followee_id": followee_id,
        "created_at": T0,
        "_loaded_at": LOADED_EARLY,
    }
    row.update(kw)
    return row


def _interaction(id_, account_id, post_id, **kw):
    row = {
        "id": id_,
        "account_id": account_id,
        "post_id": post_id,
        "action": "like",
        "created_at": T0,
        "_loaded_at": LOADED_EARLY,
    }
    row.update(kw)
    return row


def _review(id_, account_id, **kw):
    row = {
        "id": id_,
        "account_id": account_id,
        "reviewed_at": T0,
        "decision": "suspended_spam",
        "note": "ok",
        "_loaded_at": LOADED_EARLY,
    }
    row.update(kw)
    return row


RAW_ROWS: dict[str, list[dict]] = {
    "accounts": [
        _account(1),
        _account(2),
        _account(3, region=None, signup_client=None),
        _account(None),  # null_id
        _account(4, screen_name="old", _loaded_at=LOADED_EARLY),  # duplicate_id (older copy)
        _account(4, screen_name="new", _loaded_at=LOADED_LATE),  # kept
        # a replayed older export loaded after the newer one: the newer export is kept
        _account(13, screen_name="current", created_at=T0 - timedelta(days=60), exported_at=T0,
                 _loaded_at=LOADED_EARLY),  # kept
        _account(13, screen_name="stale", created_at=T0 - timedelta(days=60),
                 exported_at=T0 - timedelta(days=30), _loaded_at=LOADED_LATE),  # duplicate_id
        _account(5, followers_count=-1),  # negative_counter
        _account(6, created_at=FUTURE),  # future_timestamp
        _account(7, created_at=PRE_LAUNCH),  # pre_launch_timestamp
        _account(8, region="mars"),  # unknown_enum
        _account(9, name="Bad \ufffd decode"),  # invalid_encoding
        _account(10, description="bell \x07 char"),  # invalid_encoding
        _account(11, created_at=None),  # null_required
        _account(12, signup_client="fax"),  # unknown_enum
        _account(14, exported_at=T0 - timedelta(days=1)),  # created_after_export
        _account(15, signup_ip="", signup_device="  "),  # clean: blank identifiers are unknown
    ],
    "posts": [
        _post(100, 1),
        _post(101, 2, mentioned_account_ids=[1, 3], in_reply_to_post_id=100),
        _post(102, 999),  # unknown_account (orphan)
        _post(103, 5),  # unknown_account (quarantined author)
        _post(104, 1, created_at=FUTURE),  # future_timestamp
        _post(105, 1, text="nul \x00 byte"),  # invalid_encoding
        _post(106, 2),
        _post(106, 2),  # exact copies: duplicate_id
        _post(107, 1, created_at=T0 - timedelta(days=1)),  # before_account_created
        # a copy stamped as loaded in the future would win every later correction
        _post(100, 1, text="future-stamped copy", _loaded_at=FUTURE),  # future_loaded_at
    ],
    "logins": [
        _login(200, 1),
        _login(201, 2, result="failed_password"),
        _login(202, 1, result="hacked"),  # unknown_enum
        _login(None, 1),  # null_id
        _login(204, 999),  # unknown_account
        _login(205, 1, attempted_at=PRE_LAUNCH),  # pre_launch_timestamp
        _login(206, 1, attempted_at=T0 - timedelta(minutes=1)),  # before_account_created
        # clean, but an empty IP and a blank device are no identifiers: hashed, every login
        # without one shared a single "IP" (an audit's 60 humans flagged for action)
        _login(207, 2, ip="", device_id="  "),
    ],
    "follows": [
        _follow(300, 1, 2),
        _follow(301, 1, 999),  # unknown_account (followee)
        _follow(302, 999, 1),  # unknown_account (follower)
        _follow(303, None, 1),  # null_required
        _follow(304, 2, 2),  # self_follow (it would count as a mutual follow)
        _follow(305, 1, 2, created_at=T0 - timedelta(days=1)),  # before_account_created
    ],
    "interactions": [
        _interaction(400, 2, 100),
        _interaction(401, 2, 100, action="poke"),  # unknown_enum
        _interaction(402, 1, 102),  # unknown_post
        _interaction(403, 999, 100),  # unknown_account
        _interaction(404, 2, 100, created_at=FUTURE),  # future_timestamp
        _interaction(405, 2, 100, created_at=T0 - timedelta(days=1)),  # before_account_created
    ],
    "ops_reviews": [
        _review(500, 1),
        _review(504, 2, decision="cleared", note=None),
        _review(501, 1, decision="banned"),  # unknown_enum
        _review(502, 999),  # unknown_account
        _review(503, 3, note="caf\ufffd"),  # invalid_encoding
        # two copies loaded together, one without its note: duplicate_id for the null one on
        # every engine (nulls sort last in the tie-break, whatever the engine's default)
        _review(505, 2, decision="cleared", note=None),
        _review(505, 2, decision="cleared", note="second look"),  # kept
    ],
}

EXPECTED_QUARANTINE = {
    ("accounts", None, "null_id"),
    ("accounts", "4", "duplicate_id"),
    ("accounts", "13", "duplicate_id"),
    ("accounts", "5", "negative_counter"),
    ("accounts", "6", "future_timestamp"),
    ("accounts", "7", "pre_launch_timestamp"),
    ("accounts", "8", "unknown_enum"),
    ("accounts", "9", "invalid_encoding"),
    ("accounts", "10", "invalid_encoding"),
    ("accounts", "11", "null_required"),
    ("accounts", "12", "unknown_enum"),
    ("accounts", "14", "created_after_export"),
    ("posts", "107", "before_account_created"),
    ("posts", "100", "future_loaded_at"),
    ("logins", "206", "before_account_created"),
    ("follows", "305", "before_account_created"),
    ("interactions", "405", "before_account_created"),
    ("posts", "102", "unknown_account"),
    ("posts", "103", "unknown_account"),
    ("posts", "104", "future_timestamp"),
    ("posts", "105", "invalid_encoding"),
    ("posts", "106", "duplicate_id"),
    ("logins", "202", "unknown_enum"),
    ("logins", None, "null_id"),
    ("logins", "204", "unknown_account"),
    ("logins", "205", "pre_launch_timestamp"),
    ("follows", "301", "unknown_account"),
    ("follows", "302", "unknown_account"),
    ("follows", "303", "null_required"),
    ("follows", "304", "self_follow"),
    ("interactions", "401", "unknown_enum"),
    ("interactions", "402", "unknown_post"),
    ("interactions", "403", "unknown_account"),
    ("interactions", "404", "future_timestamp"),
    ("ops_reviews", "501", "unknown_enum"),
    ("ops_reviews", "502", "unknown_account"),
    ("ops_reviews", "503", "invalid_encoding"),
    ("ops_reviews", "505", "duplicate_id"),
}

EXPECTED_CLEAN_IDS = {
    "stg_platform__accounts": ("account_id", {1, 2, 3, 4, 13, 15}),
    "stg_platform__posts": ("post_id", {100, 101, 106}),
    "stg_platform__logins": ("login_id", {200, 201, 207}),
    "stg_platform__follows": ("follow_id", {300}),
    "stg_platform__interactions": ("interaction_id", {400}),
    "stg_ops__reviews": ("review_id", {500, 504, 505}),
}

STAGING_MODEL = {
    "accounts": "stg_platform__accounts",
    "posts": "stg_platform__posts",
    "logins": "stg_platform__logins",
    "follows": "stg_platform__follows",
    "interactions": "stg_platform__interactions",
    "ops_reviews": "stg_ops__reviews",
}


def _fill_raw(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute(f"create schema if not exists {RAW_SCHEMA}")
        for table, rows in RAW_ROWS.items():
            con.execute(raw_ddl(table))
            cols = [f.name for f in RAW_TABLES[table]]
            sql = (
                f"insert into {RAW_SCHEMA}.{table} ({', '.join(cols)}) "
                f"values ({', '.join('?' for _ in cols)})"
            )
            con.executemany(sql, [[r[c] for c in cols] for r in rows])


def _dbt(args: list[str], tmp: Path, warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOTSIFT_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("BOTSIFT_HASH_SALT", SALT)
    monkeypatch.setenv("DBT_PROFILES_DIR", str(REPO / "profiles"))
    monkeypatch.delenv("BOTSIFT_TARGET", raising=False)
    run_dbt(
        [*args, "--target-path", str(tmp / "target"), "--log-path", str(tmp / "logs")],
        root=REPO,
        quiet=True,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    tmp = tmp_path_factory.mktemp("quarantine")
    warehouse = tmp / "warehouse.duckdb"
    _fill_raw(warehouse)
    with pytest.MonkeyPatch.context() as mp:
        # raises BotsiftError if any model or test fails; these tables are mostly bad rows on
        # purpose, which the quarantine-share tests would refuse (see the test below)
        _dbt(["build", "--vars", "{max_quarantine_share: 1}"], tmp, warehouse, mp)
    yield tmp, warehouse


@pytest.fixture()
def con(built: tuple[Path, Path]) -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect(str(built[1]), read_only=True) as c:
        yield c


def test_every_bad_row_is_quarantined_with_its_reason(con: duckdb.DuckDBPyConnection) -> None:
    got = con.execute(
        "select source_table, raw_id, quarantine_reason from staging.stg_raw__quarantined_rows"
    ).fetchall()
    assert len(got) == len(EXPECTED_QUARANTINE)
    assert set(got) == EXPECTED_QUARANTINE


def test_clean_rows_reach_staging(con: duckdb.DuckDBPyConnection) -> None:
    for model, (key, ids) in EXPECTED_CLEAN_IDS.items():
        got = [r[0] for r in con.execute(f"select {key} from staging.{model}").fetchall()]
        assert sorted(got) == sorted(ids), model


@pytest.mark.parametrize("table", list(RAW_TABLES))
def test_counts_reconcile_per_table(con: duckdb.DuckDBPyConnection, table: str) -> None:
    raw, clean, quarantined = con.execute(
        f"""
        select
            (select count(*) from raw.{table}),
            (select count(*) from staging.{STAGING_MODEL[table]}),
            (select count(*) from staging.stg_raw__quarantined_rows where source_table = ?)
    """,
        [table],
    ).fetchone()
    assert raw == len(RAW_ROWS[table])
    assert raw == clean + quarantined


def test_duplicate_keeps_latest_loaded_copy(con: duckdb.DuckDBPyConnection) -> None:
    kept = con.execute(
        "select screen_name from staging.stg_platform__accounts where account_id = 4"
    ).fetchall()
    assert kept == [("new",)]
    dropped = con.execute("""
        select raw_row from staging.stg_raw__quarantined_rows
        where source_table = 'accounts' and raw_id = '4'
    """).fetchall()
    assert json.loads(dropped[0][0])["screen_name"] == "old"


def test_duplicate_account_keeps_its_latest_export_even_when_loaded_first(
    con: duckdb.DuckDBPyConnection,
) -> None:
    kept = con.execute(
        "select screen_name from staging.stg_platform__accounts where account_id = 13"
    ).fetchall()
    assert kept == [("current",)]


@pytest.mark.parametrize("null_order", ["nulls_last", "nulls_first_on_asc_last_on_desc"])
def test_duplicate_choice_does_not_depend_on_null_order(
    built: tuple[Path, Path], null_order: str
) -> None:
    """The copy kept is the same under DuckDB's null order and under Spark's (nulls first
    in ascending order), which DuckDB's default_null_order setting reproduces."""
    tmp, warehouse = built
    compiled = next((tmp / "target" / "compiled").rglob("base_ops__reviews.sql")).read_text()
    with duckdb.connect(str(warehouse), read_only=True) as c:
        c.execute(f"set default_null_order = '{null_order}'")
        kept = c.execute(
            f"select note from ({compiled}) as base where id = 505 and quarantine_reason is null"
        ).fetchall()
    assert kept == [("second look",)]


def test_identifiers_are_salted_hashes(con: duckdb.DuckDBPyConnection) -> None:
    ip_hash, device_hash = con.execute("""
        select signup_ip_hash, signup_device_hash
        from staging.stg_platform__accounts where account_id = 1
    """).fetchone()
    # the first 60 bits (15 hex digits) of the salted SHA-256, as an integer
    assert ip_hash == int(hashlib.sha256(f"{SALT}10.0.0.1".encode()).hexdigest()[:15], 16)
    assert device_hash == int(hashlib.sha256(f"{SALT}dev-1".encode()).hexdigest()[:15], 16)
    raw_rows = " ".join(
        r[0]
        for r in con.execute("select raw_row from staging.stg_raw__quarantined_rows").fetchall()
    )
    assert "10.0.0." not in raw_rows and "192.168." not in raw_rows
    assert "signup_ip_hash" in raw_rows
    # blank is unknown, as null is
    assert con.execute("""
        select signup_ip_hash, signup_device_hash from staging.stg_platform__accounts
        where account_id = 15
    """).fetchall() == [(None, None)]
    assert con.execute("""
        select ip_hash, device_hash from staging.stg_platform__logins where login_id = 207
    """).fetchall() == [(None, None)]


def test_derived_columns(con: duckdb.DuckDBPyConnection) -> None:
    assert con.execute("""
        select post_id, count_mentions from staging.stg_platform__posts order by post_id
    """).fetchall() == [(100, 0), (101, 2), (106, 0)]
    assert con.execute("""
        select login_id, is_success from staging.stg_platform__logins order by login_id
    """).fetchall() == [(200, True), (201, False), (207, True)]


def test_broken_staging_is_caught(built: tuple[Path, Path]) -> None:
    """Drop a clean row and leak a raw IP column in a copy: the dbt tests must fail."""
    tmp, warehouse = built
    # same file name in another folder: staging views name their catalog (the file's stem)
    (tmp / "broken").mkdir(exist_ok=True)
    broken = tmp / "broken" / warehouse.name
    shutil.copy(warehouse, broken)
    with duckdb.connect(str(broken)) as c:
        # stg_ models are views over base_ tables: drop the clean row where it is stored
        c.execute("delete from staging.base_platform__posts where id = 100")
        c.execute("alter view staging.stg_platform__logins rename to stg_platform__logins_kept")
        c.execute("create view staging.stg_platform__logins as "
                  "select *, 'x' as ip from staging.stg_platform__logins_kept")
        # The direct SQL check sees the silent drop as well.
        raw, clean, quarantined = c.execute("""
            select
                (select count(*) from raw.posts),
                (select count(*) from staging.stg_platform__posts),
                (select count(*) from staging.stg_raw__quarantined_rows
                 where source_table = 'posts')
        """).fetchone()
        assert raw != clean + quarantined
    with pytest.MonkeyPatch.context() as mp, pytest.raises(BotsiftError):
        _dbt(
            [
                "test",
                "--select",
                "assert_staging__raw_rows_reconcile",
                "assert_staging__no_raw_identifiers",
                "stg_platform__posts,test_name:rows_reconcile",
            ],
            tmp,
            broken,
            mp,
        )
    results = json.loads((tmp / "target" / "run_results.json").read_text())["results"]
    failed = {r["unique_id"].split(".")[2] for r in results if r["status"] == "fail"}
    assert "assert_staging__raw_rows_reconcile" in failed
    assert "assert_staging__no_raw_identifiers" in failed
    assert any(name.startswith("rows_reconcile_stg_platform__posts") for name in failed)


def test_a_load_that_is_mostly_quarantined_fails_its_share_test(
        built: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """At the default max_quarantine_share (0.5) the tables whose latest load is mostly bad
    rows fail, and only those: posts 5 of 9, logins 5 of 8, follows 5 of 6, interactions 5
    of 6 (duplicates aside; the post stamped as loaded in the year 2999 is no load of its
    own); the latest accounts load holds a clean copy and a duplicate, and the reviews 3 of 7."""
    tmp, warehouse = built
    with pytest.raises(BotsiftError, match="Failure in test quarantine_share_at_most_"):
        _dbt(["test", "--select", "test_name:quarantine_share_at_most"], tmp, warehouse,
             monkeypatch)
    results = json.loads((tmp / "target" / "run_results.json").read_text())["results"]
    status = {r["unique_id"].split(".")[2].removeprefix("quarantine_share_at_most_").rstrip("_"):
              r["status"] for r in results if r["unique_id"].startswith("test.")}
    assert status == {"base_platform__accounts": "pass", "base_platform__posts": "fail",
                      "base_platform__logins": "fail", "base_platform__follows": "fail",
                      "base_platform__interactions": "fail", "base_ops__reviews": "pass"}
