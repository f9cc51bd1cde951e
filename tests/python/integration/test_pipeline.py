"""End to end on a small simulated platform: simulate, dbt build, and check the marts."""
from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from botsift.errors import BotsiftError
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


def test_packed_trailing_counts_equal_plain_sums(built_warehouse: Path) -> None:
    """Counts summed two to a window aggregate (macros/packed_counts.sql) unpack to the plain
    trailing sums of the daily activity, low lane and high lane alike."""
    con = duckdb.connect(str(built_warehouse), read_only=True)
    # low lane: count_posts (7 and 30 days); high lane: count_follows_made (7 and 30 days),
    # count_posting_days (30 days, behind posts_per_active_day_30d); single: count_interactions
    mismatches, compared = con.sql("""
        with expected as (
            select f.account_id, f.as_of_date,
                coalesce(sum(a.count_posts) filter (where a.activity_date > f.as_of_date - 7), 0) as posts_7d,
                coalesce(sum(a.count_posts), 0) as posts_30d,
                coalesce(sum(a.count_follows_made) filter (where a.activity_date > f.as_of_date - 7), 0) as follows_7d,
                coalesce(sum(a.count_follows_made), 0) as follows_30d,
                count(*) filter (where a.count_posts > 0) as posting_days_30d,
                coalesce(sum(a.count_interactions) filter (where a.activity_date > f.as_of_date - 7), 0) as interactions_7d
            from marts.fct_account_features f
            left join intermediate.int_accounts__daily_activity a
                on a.account_id = f.account_id
                and a.activity_date <= f.as_of_date and a.activity_date > f.as_of_date - 30
            group by f.account_id, f.as_of_date
        )
        select
            count(*) filter (where f.count_posts_7d <> e.posts_7d or f.count_posts_30d <> e.posts_30d
                or f.count_follows_made_7d <> e.follows_7d or f.count_follows_made_30d <> e.follows_30d
                or f.count_interactions_7d <> e.interactions_7d
                or f.posts_per_active_day_30d is distinct from
                    case when e.posting_days_30d > 0 then e.posts_30d / e.posting_days_30d end),
            count(*) filter (where e.follows_30d > 0 and e.posting_days_30d > 0)
        from marts.fct_account_features f
        inner join expected e using (account_id, as_of_date)
    """).fetchone()
    assert compared > 0
    assert mismatches == 0


def _assert_singular_test_fails(built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                corruption: str, test_name: str) -> None:
    """Corrupt a copy of the built warehouse with ``corruption`` (SQL); ``test_name`` must fail."""
    wh = tmp_path / "wh.duckdb"
    shutil.copy(built, wh)
    con = duckdb.connect(str(wh))
    con.execute(corruption)
    con.close()
    monkeypatch.setenv("BOTSIFT_WAREHOUSE", str(wh))
    with pytest.raises(BotsiftError, match=test_name):
        run_dbt(["test", "--select", test_name, "--target-path", str(tmp_path / "target")],
                ROOT, quiet=True)


def test_daily_count_beyond_a_packed_lane_fails_the_build(
        built_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A daily count too large for a packed lane stops the build at its singular test."""
    _assert_singular_test_fails(
        built_warehouse, tmp_path, monkeypatch,
        "update intermediate.int_accounts__daily_activity set count_mentions = 3000000 "
        "where rowid = (select min(rowid) from intermediate.int_accounts__daily_activity)",
        "assert_int_accounts__daily_activity__counts_fit_packed_lanes")


def test_feature_that_counts_a_later_event_fails_the_leak_check(
        built_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 7-day count that includes one event more than staging holds up to as_of_date (as a
    feature that read past its as-of date would) fails the leak check."""
    _assert_singular_test_fails(
        built_warehouse, tmp_path, monkeypatch,
        "update marts.fct_account_features set count_posts_7d = count_posts_7d + 1 "
        "where as_of_date = (select max(as_of_date) from marts.fct_account_features)",
        "assert_fct_account_features__no_data_after_as_of_date")


def test_source_freshness_checks_every_raw_table_by_default(
        built_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`dbt source freshness` takes the default selector: it must reach the raw tables, pass on
    a fresh load, and warn on a stale one (`_loaded_at` two days old)."""
    import json

    wh = tmp_path / "wh.duckdb"
    shutil.copy(built_warehouse, wh)
    monkeypatch.setenv("BOTSIFT_WAREHOUSE", str(wh))
    target = tmp_path / "target"

    def statuses() -> dict[str, str]:
        run_dbt(["source", "freshness", "--target-path", str(target)], ROOT, quiet=True)
        results = json.loads((target / "sources.json").read_text())["results"]
        return {r["unique_id"].rsplit(".", 1)[-1]: r["status"] for r in results}

    assert statuses() == dict.fromkeys(
        ["accounts", "posts", "logins", "follows", "interactions", "ops_reviews"], "pass")
    con = duckdb.connect(str(wh))
    con.execute("update raw.posts set _loaded_at = _loaded_at - interval 2 day")
    con.close()
    assert statuses()["posts"] == "warn"


_EVENT_TIMES = {"posts": "created_at", "logins": "attempted_at", "follows": "created_at",
                "interactions": "created_at", "ops_reviews": "reviewed_at"}


def _differing_rows(a: Path, b: Path, relation: str, where: str = "true") -> int:
    con = duckdb.connect()
    con.execute(f"attach '{a}' as a (read_only)")
    con.execute(f"attach '{b}' as b (read_only)")
    try:
        return sum(con.execute(
            f"select count(*) from (select * from {x}.{relation} where {where} "
            f"except all select * from {y}.{relation} where {where})").fetchall()[0][0]
            for x, y in (("a", "b"), ("b", "a")))
    finally:
        con.close()


def test_refreshes_through_a_mid_day_load_equal_one_full_build(
        built_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new day loaded in two parts, each followed by an incremental refresh, gives the
    features and training examples of one full build of the whole day: the refresh after the
    first part computes the day, the next one computes it again; repeated follows are counted
    alike by the export and the roll-back; training reads only the snapshot window, though the
    incremental table keeps the dates that fell out of it."""
    from botsift.simulate import extend_simulation

    window = ["--vars", "{feature_snapshot_days: 5}"]
    inc, full = tmp_path / "inc.duckdb", tmp_path / "full.duckdb"
    shutil.copy(built_warehouse, inc)

    def build(wh: Path, *extra: str) -> None:
        monkeypatch.setenv("BOTSIFT_WAREHOUSE", str(wh))
        run_dbt(["build", "--selector", "training", *window, *extra,
                 "--target-path", str(tmp_path / "target")], ROOT, quiet=True)

    build(inc, "--full-refresh")
    extend_simulation(inc, 1)
    con = duckdb.connect(str(inc))
    new_day = con.execute("select max(cast(created_at as date)) from raw.posts").fetchall()[0][0]
    noon = f"timestamp '{new_day} 12:00:00'"
    for table, at in _EVENT_TIMES.items():
        con.execute(f"create table main.later_{table} as select * from raw.{table} where {at} >= {noon}")
        con.execute(f"delete from raw.{table} where {at} >= {noon}")
    # the morning's export: counters as at noon (follow counters count distinct accounts)
    con.execute("create table main.accounts_at_end as select * from raw.accounts")
    con.execute("""create temp table later_pairs as
        select follower_id, followee_id from main.later_follows
        except select follower_id, followee_id from raw.follows""")
    con.execute(f"""update raw.accounts set
        statuses_count = statuses_count - (select count(*) from main.later_posts as p
                                           where p.account_id = accounts.id),
        favourites_count = favourites_count - (select count(*) from main.later_interactions as i
                                               where i.account_id = accounts.id and i.action = 'like'),
        followers_count = followers_count - (select count(*) from later_pairs
                                             where followee_id = accounts.id),
        friends_count = friends_count - (select count(*) from later_pairs
                                         where follower_id = accounts.id),
        exported_at = {noon}""")
    con.close()
    build(inc)  # the morning
    con = duckdb.connect(str(inc))
    for table in _EVENT_TIMES:
        con.execute(f"insert into raw.{table} select * from main.later_{table}")
        con.execute(f"drop table main.later_{table}")
    con.execute("delete from raw.accounts")
    con.execute("insert into raw.accounts select * from main.accounts_at_end")
    con.execute("drop table main.accounts_at_end")
    con.close()
    shutil.copy(inc, full)
    build(inc)  # the afternoon
    build(full, "--full-refresh")
    con = duckdb.connect(str(full), read_only=True)
    dates = [r[0] for r in con.execute(
        "select distinct as_of_date from marts.fct_account_features order by 1").fetchall()]
    con.close()
    assert len(dates) == 5 and dates[-1] == new_day
    in_window = f"as_of_date >= date '{dates[0]}'"
    assert _differing_rows(inc, full, "marts.fct_account_features", in_window) == 0
    assert _differing_rows(inc, full, "marts.ml_training_examples") == 0


def test_features_as_of_an_earlier_date_roll_counters_back_past_every_later_event(
        built_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With feature_as_of_date before the data ends, counters are those of the full build at
    that date: events after the last snapshot are subtracted too."""
    con = duckdb.connect(str(built_warehouse), read_only=True)
    as_of = con.execute("select min(as_of_date) + 5 from marts.fct_account_features").fetchall()[0][0]
    con.close()
    wh = tmp_path / "as_of.duckdb"
    shutil.copy(built_warehouse, wh)
    monkeypatch.setenv("BOTSIFT_WAREHOUSE", str(wh))
    run_dbt(["build", "--selector", "training", "--full-refresh", "--vars",
             f"{{feature_as_of_date: '{as_of}'}}", "--target-path", str(tmp_path / "target")],
            ROOT, quiet=True)
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("select max(as_of_date) from marts.fct_account_features").fetchall()[0][0] == as_of
    con.close()
    assert _differing_rows(wh, built_warehouse, "marts.fct_account_features",
                           f"as_of_date = date '{as_of}'") == 0



# Each labelled account with its cluster's stratum (majority label x region), how many
# clusters that stratum has, and whether the cluster is large in it (two accounts or more and
# 5% of its rows or more): the split rule's inputs.
_SPLIT_GROUPS = """
with examples as (
    select account_id, split, group_id, label, region
    from {db}.intermediate.int_training__labelled_snapshots
),
clusters as (
    select group_id, count(*) as group_rows,
           case when avg(cast(label as double)) >= 0.5 then 1 else 0 end as stratum_label,
           coalesce(min(region), '') as stratum_region
    from examples
    group by group_id
),
strata as (
    select *,
           count(*) over (partition by stratum_label, stratum_region) as stratum_groups,
           group_rows >= 2
               and group_rows >= 0.05 * sum(group_rows) over (partition by stratum_label, stratum_region)
               as is_large
    from clusters
)
select examples.account_id, examples.split, strata.*
from examples
inner join strata using (group_id)
"""


def test_a_refresh_leaves_botnets_and_small_strata_in_their_split(
        built_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three more days of labels and clusters leave every account of a large cluster (a
    botnet, grown or not), and of an unchanged cluster in a stratum of fewer than 20, in the
    split it had: those are cut by a hash of the cluster's own id, so a later model version
    does not test on a botnet an earlier one trained on. The small clusters of a stratum of
    20 or more are cut by cumulative row share, exact strata at the price of moving the few
    near a boundary: under 1% of them here (2 of 1,057).

    On this 4,000-account simulation the previous rule (a 20-slot deal by rank in strata
    under 20 clusters) moved none of these either; at 20,000 accounts it moved 28% of the
    labelled bots in 7 days against 3.3% now (benchmarks/split_rules.py). The dbt unit tests
    int_training__labelled_snapshots__split_by_cluster_hash and
    __row_share_for_many_small_clusters are what tell the rules apart; this test checks the
    property end to end, through clustering and an incremental build."""
    from botsift.simulate import extend_simulation

    later = tmp_path / "later.duckdb"
    shutil.copy(built_warehouse, later)
    extend_simulation(later, 3)
    monkeypatch.setenv("BOTSIFT_WAREHOUSE", str(later))
    run_dbt(["build", "--selector", "training", "--target-path", str(tmp_path / "target")],
            ROOT, quiet=True)
    con = duckdb.connect()
    con.execute(f"attach '{built_warehouse}' as before_db (read_only)")
    con.execute(f"attach '{later}' as after_db (read_only)")
    try:
        rows = con.execute(f"""
            with b as ({_SPLIT_GROUPS.format(db="before_db")}),
                 a as ({_SPLIT_GROUPS.format(db="after_db")}),
                 kept as (
                     select a.split <> b.split as moved,
                            case when a.is_large and b.is_large then 'large'
                                 when a.stratum_groups < 20 and b.stratum_groups < 20 then 'few'
                                 when a.stratum_groups >= 20 and b.stratum_groups >= 20
                                      and not a.is_large and not b.is_large then 'many'
                            end as kind
                     from b inner join a using (account_id)
                     where a.group_id = b.group_id
                         and a.stratum_label = b.stratum_label and a.stratum_region = b.stratum_region
                         and (a.group_rows = b.group_rows or (a.is_large and b.is_large)))
            select kind, count(*), count(*) filter (where moved) from kept
            where kind is not null group by kind order by kind""").fetchall()
        changed = con.execute(f"""
            select count(*) from ({_SPLIT_GROUPS.format(db="before_db")}) as b
            inner join ({_SPLIT_GROUPS.format(db="after_db")}) as a using (account_id)
            where a.group_rows <> b.group_rows or a.stratum_groups <> b.stratum_groups""").fetchall()[0][0]
    finally:
        con.close()
    counts = {kind: (n, moved) for kind, n, moved in rows}
    assert changed > 0, counts  # the refresh did change clusters and strata around them
    assert counts["large"][0] + counts["few"][0] > 20, counts
    assert counts["large"][1] == 0 and counts["few"][1] == 0, counts
    assert counts["many"][0] > 900, counts  # most labelled accounts
    assert counts["many"][1] < 0.01 * counts["many"][0], counts


def _build(warehouse: Path, tmp_path: Path, *args: str) -> str:
    """``dbt build ARGS`` on ``warehouse`` in a subprocess (its log is what the tests read)."""
    import subprocess
    import sys

    from botsift.project import dbt_env

    env = {**dbt_env(ROOT), "BOTSIFT_WAREHOUSE": str(warehouse)}
    res = subprocess.run([sys.executable, "-c", "from dbt.cli.main import cli; cli()",
                          "build", *args, "--target-path", str(tmp_path / "target")],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    return out


def _refresh_and_full_build(wh: Path, tmp_path: Path, selector: str
                            ) -> tuple[str, duckdb.DuckDBPyConnection]:
    """Refresh ``wh`` (its log), then fully rebuild a copy of it; a connection with the two
    attached as ``inc`` and ``fresh``."""
    out = _build(wh, tmp_path, "--selector", selector)
    full = tmp_path / "full.duckdb"
    shutil.copy(wh, full)
    _build(full, tmp_path, "--selector", selector, "--full-refresh")
    con = duckdb.connect()
    con.execute(f"attach '{wh}' as inc (read_only); attach '{full}' as fresh (read_only)")
    return out, con


def test_events_loaded_late_are_recomputed_and_do_not_stop_the_build(
        built_warehouse: Path, tmp_path: Path) -> None:
    """Posts of an early day loaded after the features were built. A refresh used to compute
    only the latest date again, so the earlier snapshots missed them, and the leak check then
    failed (an error: scoring and monitoring skipped on every later build, when a sampled
    account was among them). Now the refresh recomputes from that day, and its snapshots
    equal a full build's."""
    wh = tmp_path / "wh.duckdb"
    shutil.copy(built_warehouse, wh)
    con = duckdb.connect(str(wh))
    # 400 accounts (the leak check samples 2% of accounts: some are among them)
    con.execute("""insert into raw.posts
        select 9100000000000 + account_id, account_id, timestamp '2026-10-04 12:00:00',
               'late post', null, [], now()::timestamp
        from (select distinct account_id from staging.stg_platform__accounts
              where created_at < timestamp '2026-10-04' order by account_id limit 400)""")
    con.close()

    out, con = _refresh_and_full_build(wh, tmp_path, "training")
    assert "ERROR=0" in out and "PASS assert_fct_account_features__no_data_after_as_of_date" in out
    assert "events or accounts loaded late: snapshots from 2026-10-04 on are computed again" in out, out[-3000:]
    assert "PASS assert_fct_account_features__windows_match_staged_events" in out
    q = ("select * exclude (count_posts, posts_per_day_of_age) from {}.marts.fct_account_features "
         "where as_of_date >= date '2026-10-04'")
    assert con.execute(f"select count(*) from ({q.format('inc')} except {q.format('fresh')})"
                       ).fetchall() == [(0,)]
    # the lifetime post counter is rolled back from the export: the late posts move it on
    # earlier dates too, which only a full build recomputes; on and after the 4th it matches
    q = "select account_id, as_of_date, count_posts from {}.marts.fct_account_features"
    assert con.execute(f"select min(as_of_date) from ({q.format('inc')} except {q.format('fresh')})"
                       ).fetchall()[0][0] < date(2026, 10, 4)
    assert con.execute(f"select count(*) from ({q.format('inc')} except {q.format('fresh')}) "
                       "where as_of_date >= date '2026-10-04'").fetchall() == [(0,)]


def test_accounts_loaded_late_are_recomputed_into_earlier_snapshots(
        built_warehouse: Path, tmp_path: Path) -> None:
    """Account records backfilled with a past creation date and no events (a twentieth-
    session audit): the event totals still matched, so a refresh left them out of every
    earlier snapshot, and their labels out of the training examples, silently. The account
    count per snapshot now differs from staging's, and the refresh recomputes from there."""
    wh = tmp_path / "wh.duckdb"
    shutil.copy(built_warehouse, wh)
    con = duckdb.connect(str(wh))
    con.execute("""insert into raw.accounts
        select * replace (9200000000 + id as id, timestamp '2026-10-03 09:00:00' as created_at,
                          now()::timestamp as _loaded_at)
        from raw.accounts order by id limit 40""")
    con.close()

    out, con = _refresh_and_full_build(wh, tmp_path, "features")
    assert "events or accounts loaded late: snapshots from 2026-10-03 on are computed again" in out, \
        out[-3000:]
    q = ("select account_id, as_of_date, account_age_days from {}.marts.fct_account_features "
         "where account_id >= 9200000000")
    inc = con.execute(q.format("inc") + " order by all").fetchall()
    assert inc == con.execute(q.format("fresh") + " order by all").fetchall()
    assert min(d for _, d, _ in inc) == date(2026, 10, 3) and len({a for a, _, _ in inc}) == 40
