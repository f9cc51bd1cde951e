"""Tests for botsift.simulate: determinism, extension, integrity, scenario switches, errors."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from botsift.errors import BotsiftError
from botsift.schema import RAW_TABLES
from botsift.simulate import (
    EVENT_TABLES,
    SimulationConfig,
    extend_simulation,
    simulate_platform,
)

CFG = SimulationConfig(n_accounts=3000, days=5, start_date=date(2026, 10, 1), bot_share=0.05,
                       seed=7, drift_day=2, review_share=0.2)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sim") / "wh" / "w.duckdb"
    simulate_platform(CFG, path)
    return path


@pytest.fixture(scope="module")
def con(warehouse: Path):  # type: ignore[no-untyped-def]
    c = duckdb.connect(str(warehouse), read_only=True)
    yield c
    c.close()


def _rows(path: Path, table: str) -> list[tuple]:
    cols = ", ".join(f'"{f.name}"' for f in RAW_TABLES[table] if f.name != "_loaded_at")
    with duckdb.connect(str(path), read_only=True) as c:
        return c.execute(f"select {cols} from raw.{table} order by id").fetchall()


def test_tables_follow_the_raw_contract(con) -> None:  # type: ignore[no-untyped-def]
    for table, schema in RAW_TABLES.items():
        got = con.execute(f"select * from raw.{table} limit 0").to_arrow_table().schema
        assert got.names == schema.names, table
        assert [f.type for f in got] == [f.type for f in schema], table
        assert con.execute(f"select count(*) from raw.{table}").fetchone()[0] > 0, table


def test_same_seed_same_data(warehouse: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.duckdb"
    simulate_platform(CFG, again)
    for table in RAW_TABLES:
        assert _rows(again, table) == _rows(warehouse, table), table


def test_other_seed_other_data(warehouse: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.duckdb"
    simulate_platform(replace(CFG, seed=8, days=1), other)
    assert _rows(other, "posts")[:50] != _rows(warehouse, "posts")[:50]


def test_extend_equals_one_shot(warehouse: Path, tmp_path: Path) -> None:
    part = tmp_path / "part.duckdb"
    simulate_platform(replace(CFG, days=2), part)
    counts = extend_simulation(part, 3)
    for table in (*EVENT_TABLES, "accounts"):
        assert _rows(part, table) == _rows(warehouse, table), table
    assert counts["posts"] == len(_rows(warehouse, "posts"))
    with duckdb.connect(str(part), read_only=True) as c:
        assert c.execute("select days_simulated from raw._simulation").fetchone()[0] == 5


def test_ids_unique_and_timestamps_in_window(con) -> None:  # type: ignore[no-untyped-def]
    lo = datetime(2026, 10, 1)
    hi = lo + timedelta(days=CFG.days)
    ts = {"posts": "created_at", "logins": "attempted_at", "follows": "created_at",
          "interactions": "created_at", "ops_reviews": "reviewed_at"}
    for table, col in ts.items():
        n, n_ids, t0, t1 = con.execute(
            f"select count(*), count(distinct id), min({col}), max({col}) from raw.{table}"
        ).fetchone()
        assert n == n_ids, table
        assert lo <= t0 and t1 < hi, table
    n, n_ids = con.execute("select count(*), count(distinct id) from raw.accounts").fetchone()
    assert n == n_ids
    assert con.execute("select max(created_at) < max(exported_at) from raw.accounts").fetchone()[0]


def test_referential_integrity(con) -> None:  # type: ignore[no-untyped-def]
    checks = {
        "mention of unknown account": """
            select count(*) from (select unnest(mentioned_account_ids) as a from raw.posts)
            where a not in (select id from raw.accounts)""",
        "reply to missing or later post": """
            select count(*) from raw.posts as p left join raw.posts as parent
              on p.in_reply_to_post_id = parent.id
            where p.in_reply_to_post_id is not null
              and (parent.id is null or parent.created_at > p.created_at)""",
        "interaction before its post or on a missing post": """
            select count(*) from raw.interactions as i left join raw.posts as p
              on i.post_id = p.id where p.id is null or p.created_at > i.created_at""",
        "follow of unknown account": """
            select count(*) from raw.follows
            where follower_id not in (select id from raw.accounts)
               or followee_id not in (select id from raw.accounts)
               or follower_id = followee_id""",
        "event by unknown or not yet created account": """
            select count(*) from (
              select account_id, created_at as t from raw.posts
              union all select account_id, attempted_at from raw.logins
              union all select account_id, created_at from raw.interactions
              union all select account_id, reviewed_at from raw.ops_reviews) as e
            left join raw.accounts as a on a.id = e.account_id
            where a.id is null or a.created_at > e.t""",
    }
    for what, sql in checks.items():
        assert con.execute(sql).fetchone()[0] == 0, what


def test_counters_consistent_with_events(con) -> None:  # type: ignore[no-untyped-def]
    bad = con.execute("""
        with p as (select account_id, count(*) as n from raw.posts group by all),
        fo as (select follower_id as account_id, count(distinct followee_id) as n
               from raw.follows group by all),
        fr as (select followee_id as account_id, count(distinct follower_id) as n
               from raw.follows group by all),
        l as (select account_id, count(*) as n from raw.interactions
              where action = 'like' group by all)
        select count(*) from raw.accounts as a
        left join p on p.account_id = a.id left join fo on fo.account_id = a.id
        left join fr on fr.account_id = a.id left join l on l.account_id = a.id
        where a.statuses_count < coalesce(p.n, 0) or a.friends_count < coalesce(fo.n, 0)
           or a.followers_count < coalesce(fr.n, 0) or a.favourites_count < coalesce(l.n, 0)
           or least(a.statuses_count, a.friends_count, a.followers_count,
                    a.favourites_count, a.listed_count) < 0
    """).fetchone()[0]
    assert bad == 0


def test_a_day_adds_its_new_followers_to_the_counters_not_repeat_follows(
        warehouse: Path, tmp_path: Path) -> None:
    """Follower and following counters count distinct accounts (the log repeats some pairs):
    the last day adds exactly the pairs first seen that day, and posts add every post."""
    before = tmp_path / "before.duckdb"
    simulate_platform(replace(CFG, days=CFG.days - 1), before)
    with duckdb.connect() as c:
        c.execute(f"attach '{before}' as b (read_only)")
        c.execute(f"attach '{warehouse}' as w (read_only)")
        last_day = c.execute("select max(cast(created_at as date)) from w.raw.follows").fetchone()[0]
        assert c.execute("""select count(*) from w.raw.follows where cast(created_at as date) = ?
            and (follower_id, followee_id) in (select (follower_id, followee_id) from w.raw.follows
                                                where cast(created_at as date) < ?)""",
                         [last_day, last_day]).fetchone()[0] > 0  # repeats exist on that day
        mismatched = c.execute("""
            with first_follows as (select follower_id, followee_id, min(created_at) as first_at
                                   from w.raw.follows group by all),
            new as (select * from first_follows where cast(first_at as date) = ?),
            posts as (select account_id, count(*) as n from w.raw.posts
                      where cast(created_at as date) = ? group by all)
            select count(*) from w.raw.accounts as a join b.raw.accounts as p using (id)
            where a.followers_count - p.followers_count
                    <> (select count(*) from new where followee_id = a.id)
               or a.friends_count - p.friends_count
                    <> (select count(*) from new where follower_id = a.id)
               or a.statuses_count - p.statuses_count
                    <> coalesce((select n from posts where posts.account_id = a.id), 0)
        """, [last_day, last_day]).fetchone()[0]
    assert mismatched == 0


def test_bot_share_and_families(con) -> None:  # type: ignore[no-untyped-def]
    share = con.execute("select avg(is_bot::int) from raw._simulation_truth").fetchone()[0]
    assert share == pytest.approx(CFG.bot_share, abs=0.01)
    fams = {r[0] for r in con.execute(
        "select distinct bot_family from raw._simulation_truth where is_bot").fetchall()}
    assert fams == {"spam", "fake_follower", "careful", "drift_wave"}
    sizes = con.execute("""select min(n), max(n) from (select botnet_id, count(*) as n
        from raw._simulation_truth where botnet_id is not null group by all)""").fetchone()
    assert sizes[0] >= 1 and sizes[1] <= 50


def test_drift_family_only_from_drift_day(con) -> None:  # type: ignore[no-untyped-def]
    drift_start = datetime(2026, 10, 1) + timedelta(days=CFG.drift_day)
    first_created, first_post = con.execute("""
        select min(a.created_at), min(p.created_at)
        from raw._simulation_truth as t join raw.accounts as a on a.id = t.account_id
        left join raw.posts as p on p.account_id = t.account_id
        where t.bot_family = 'drift_wave'""").fetchone()
    assert first_created >= drift_start and first_post >= drift_start
    # Other bot accounts all predate the window.
    assert con.execute("""select count(*) from raw._simulation_truth as t
        join raw.accounts as a on a.id = t.account_id
        where coalesce(t.bot_family, '') <> 'drift_wave'
          and a.created_at >= timestamp '2026-10-01'""").fetchone()[0] == 0


def test_no_drift_family_without_drift_day(tmp_path: Path) -> None:
    path = tmp_path / "nodrift.duckdb"
    simulate_platform(replace(CFG, drift_day=None, days=1), path)
    with duckdb.connect(str(path), read_only=True) as c:
        fams = {r[0] for r in c.execute(
            "select distinct bot_family from raw._simulation_truth").fetchall()}
    assert "drift_wave" not in fams and "spam" in fams


def test_spam_repeats_after_normalisation_humans_do_not(con) -> None:  # type: ignore[no-untyped-def]
    dup = dict(con.execute(r"""
        with n as (select t.is_bot and t.bot_family = 'spam' as spam,
            trim(regexp_replace(regexp_replace(p.text, '(https?://\S+|@\S+|\d+)', '', 'g'),
                                '\s+', ' ', 'g')) as norm
          from raw.posts as p join raw._simulation_truth as t on t.account_id = p.account_id
          where t.account_kind in ('human', 'spam'))
        select spam, 1 - count(distinct norm) / count(*) from n group by all""").fetchall())
    assert dup[True] > 0.9
    assert dup[False] < 0.5


def test_reviews_are_a_noisy_minority(con) -> None:  # type: ignore[no-untyped-def]
    reviewed, wrong = con.execute("""
        select count(distinct r.account_id) / (select count(*) from raw.accounts),
               avg(case when t.is_bot and r.decision = 'cleared' then 1
                        when not t.is_bot and r.decision like 'suspended%' then 1 else 0 end)
        from raw.ops_reviews as r join raw._simulation_truth as t using (account_id)
    """).fetchone()
    assert 0 < reviewed < 0.5
    assert 0 < wrong < 0.2


_AFTER_SUSPENSION = """
    with suspended as (
        select account_id, min(reviewed_at) as suspended_at from raw.ops_reviews
        where decision like 'suspended%' group by all)
    select
        (select count(*) from raw.posts join suspended using (account_id)
         where created_at >= suspended_at),
        (select count(*) from raw.logins join suspended using (account_id)
         where attempted_at >= suspended_at),
        (select count(*) from raw.follows join suspended on follower_id = account_id
         where created_at >= suspended_at),
        (select count(*) from raw.interactions join suspended using (account_id)
         where created_at >= suspended_at),
        (select count(*) from raw.ops_reviews join suspended using (account_id)
         where reviewed_at > suspended_at)
"""


def test_suspended_accounts_carry_on_unless_suspensions_are_enforced(
        con, warehouse: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # by default (earlier simulations' rows) a suspended account keeps acting and is reviewed
    # again; enforced, its first suspension is its last event
    assert all(n > 0 for n in con.execute(_AFTER_SUSPENSION).fetchone())
    full = tmp_path / "enforced.duckdb"
    simulate_platform(replace(CFG, enforce_suspensions=True), full)
    with duckdb.connect(str(full), read_only=True) as c:
        assert c.execute(_AFTER_SUSPENSION).fetchone() == (0, 0, 0, 0, 0)
        n_suspended = c.execute("select count(distinct account_id) from raw.ops_reviews "
                                "where decision like 'suspended%'").fetchone()[0]
    assert n_suspended > 20
    part = tmp_path / "enforced_part.duckdb"
    simulate_platform(replace(CFG, enforce_suspensions=True, days=2), part)
    extend_simulation(part, 3)  # the suspensions so far are read back from raw.ops_reviews
    for table in (*EVENT_TABLES, "accounts"):
        assert _rows(part, table) == _rows(full, table), table
    # the same draws: every enforced event is one of the unenforced simulation's (replies to
    # a dropped post lose their parent, so posts compare without it)
    for table in EVENT_TABLES:
        enforced = {r[:3] for r in _rows(full, table)}
        carried_on = {r[:3] for r in _rows(warehouse, table)}
        assert enforced < carried_on, table


def test_biased_region_humans_share_ips(tmp_path: Path) -> None:
    path = tmp_path / "biased.duckdb"
    simulate_platform(replace(CFG, biased_region="africa", days=2), path)
    with duckdb.connect(str(path), read_only=True) as c:
        per_ip = dict(c.execute("""
            select a.region = 'africa', count(distinct l.account_id) / count(distinct l.ip)
            from raw.logins as l join raw.accounts as a on a.id = l.account_id
            join raw._simulation_truth as t on t.account_id = a.id
            where not t.is_bot group by all""").fetchall())
    assert per_ip[True] > 3 * per_ip[False]


@pytest.mark.parametrize("change, message", [
    ({"bot_share": 0.0}, "bot_share"),
    ({"bot_share": 0.6}, "bot_share"),
    ({"regions": ("na", "mars")}, "unknown region"),
    ({"biased_region": "mars"}, "unknown region"),
    ({"days": 0}, "days"),
    ({"n_accounts": 99}, "n_accounts"),
    ({"seed": -1}, r"seed=-1: must be in \[0, 2\*\*32 - 1\]"),
    ({"seed": 2**32}, "seed=4294967296"),
])
def test_bad_config_raises(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(BotsiftError, match=message):
        simulate_platform(replace(CFG, **change), tmp_path / "w.duckdb")
    assert not (tmp_path / "w.duckdb").exists()


def test_extend_errors(tmp_path: Path) -> None:
    with pytest.raises(BotsiftError, match="no warehouse"):
        extend_simulation(tmp_path / "missing.duckdb", 2)
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(BotsiftError, match="holds no simulation"):
        extend_simulation(empty, 2)
    with pytest.raises(BotsiftError, match="at least 1"):
        extend_simulation(empty, 0)


def test_locked_warehouse_raises(locked_warehouse: tuple[Path, int]) -> None:
    path, _ = locked_warehouse
    with pytest.raises(BotsiftError, match="locked by another process"):
        simulate_platform(replace(CFG, n_accounts=200, days=1), path)
