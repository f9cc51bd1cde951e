"""Compare split rules on the labelled examples of warehouses built by split_churn.py.

For each work folder (``base``, ``plus1``, ``plus7`` warehouses from
``split_churn.py --workdir DIR``), re-assigns the splits of
``intermediate.int_training__labelled_snapshots`` under each rule and each hash salt (a salt
stands in for another draw of the hash: the same clusters, other positions) and reports:

- how often the project's stratification test (``assert_ml_training_examples__stratified``)
  would fail on the base build;
- how far each bot and human stratum's split shares are from 70/15/15 (mean absolute);
- bot strata (region) without a test example;
- the share of accounts in both builds that change split after +1 and +7 days.

Rules: ``old`` (cumulative row share in hash order, a 20-slot cycle below 20 groups: the
previous rule), ``hash`` (a bare hash cut), ``hash_cover`` (hash cut, every split filled in strata of 3+ groups), ``hash_guarded`` (hash_cover, then at most one
large group per stratum in validation and in test), ``deal_large`` (large groups dealt by the
old 20-slot cycle in hash order, the rest a hash cut), ``share_many`` (cumulative row share
for every group of a stratum of 20+ groups, hash_guarded below), ``model`` (cumulative row
share for the small groups of a stratum of 20+ groups, hash_guarded for the large ones and
for strata below 20: the model now). A large group has 2+ accounts and 5% of its stratum's
rows or more. The rules are re-stated here in SQL; on salt ``split`` ``model`` equals the
model's output.

    python benchmarks/split_rules.py /tmp/split_churn_s42 /tmp/split_churn_s1 --salts 25
"""
from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
TRAIN, TRAIN_VALIDATION = 0.70, 0.85
CYCLE = """case cast(group_rank as integer) % 20 when 1 then 'validation' when 8 then 'validation'
    when 15 then 'validation' when 2 then 'test' when 12 then 'test' when 18 then 'test'
    else 'train' end"""
STRATUM = "partition by stratum_label, stratum_region"
HYBRID_GROUPS = 20
LARGE_MIN = 2  # one account is never a botnet


def groups_sql(salt: str) -> str:
    return f"""
        select group_id, count(*) as n,
               case when avg(cast(label as double)) >= 0.5 then 1 else 0 end as stratum_label,
               min(region) as stratum_region,
               cast(('0x' || substr(md5(group_id || '{salt}'), 1, 8)) as bigint) / 4294967296.0 as u
        from examples group by group_id"""


def rule_sql(rule: str, salt: str) -> str:
    """One row per group: group_id, split."""
    g = groups_sql(salt)
    cut = f"case when u < {TRAIN} then 'train' when u < {TRAIN_VALIDATION} then 'validation' else 'test' end"
    if rule == "hash":
        return f"select group_id, {cut} as split from ({g})"
    if rule == "old":
        return f"""
            with p as (
                select *, count(*) over ({STRATUM}) as stratum_groups,
                       row_number() over ({STRATUM} order by u, group_id) - 1 as group_rank,
                       (sum(n) over ({STRATUM} order by u, group_id rows between unbounded preceding and current row)
                        - n / 2.0) / sum(n) over ({STRATUM}) as position
                from ({g}))
            select group_id,
                   case when stratum_groups < 20 then {CYCLE}
                        when position < {TRAIN} then 'train'
                        when position < {TRAIN_VALIDATION} then 'validation' else 'test' end as split
            from p"""
    cover = f"""
        with p as (
            select *, count(*) over ({STRATUM}) as stratum_groups,
                   row_number() over ({STRATUM} order by u, group_id) - 1 as group_rank,
                   sum(case when u < {TRAIN} then 1 else 0 end) over ({STRATUM}) as k1,
                   sum(case when u < {TRAIN_VALIDATION} then 1 else 0 end) over ({STRATUM}) as k2,
                   n >= greatest({LARGE_MIN}, 0.05 * sum(n) over ({STRATUM})) as is_large
            from ({g})),
        b1 as (select *, case when stratum_groups >= 3 then greatest(least(k1, stratum_groups - 2), 1)
                              else greatest(k1, 1) end as train_end from p),
        b2 as (select *, case when stratum_groups >= 3 then greatest(least(k2, stratum_groups - 1), train_end + 1)
                              else greatest(k2, train_end) end as validation_end from b1),
        s as (select *, case when group_rank < train_end then 'train'
                             when group_rank < validation_end then 'validation' else 'test' end as split from b2)"""
    if rule == "deal_large":
        return f"""
            with p as (
                select *, n >= greatest({LARGE_MIN}, 0.05 * sum(n) over ({STRATUM})) as is_large from ({g})),
            r as (select *, row_number() over ({STRATUM}, is_large order by u, group_id) - 1 as group_rank from p)
            select group_id, case when is_large then {CYCLE} else {cut} end as split from r"""
    if rule == "hash_cover":
        return f"{cover} select group_id, split from s"
    guarded = f"""{cover},
            r as (select *, row_number() over ({STRATUM}, split, is_large order by u, group_id) as large_rank from s)"""
    if rule == "hash_guarded":
        return f"""{guarded}
            select group_id, case when split <> 'train' and is_large and large_rank > 1 then 'train'
                                  else split end as split
            from r"""
    if rule == "share_many":
        return f"""{guarded},
            q as (select *, (sum(n) over ({STRATUM} order by u, group_id rows between unbounded preceding and current row)
                             - n / 2.0) / sum(n) over ({STRATUM}) as position from r)
            select group_id,
                   case when stratum_groups >= {HYBRID_GROUPS} then
                            case when position < {TRAIN} then 'train'
                                 when position < {TRAIN_VALIDATION} then 'validation' else 'test' end
                        when split <> 'train' and is_large and large_rank > 1 then 'train'
                        else split end as split
            from q"""
    if rule == "model":
        return f"""{guarded},
            q as (select *, (sum(n) over ({STRATUM}, is_large order by u, group_id rows between unbounded preceding and current row)
                             - n / 2.0) / sum(n) over ({STRATUM}, is_large) as position from r)
            select group_id,
                   case when stratum_groups >= {HYBRID_GROUPS} and not is_large then
                            case when position < {TRAIN} then 'train'
                                 when position < {TRAIN_VALIDATION} then 'validation' else 'test' end
                        when split <> 'train' and is_large and large_rank > 1 then 'train'
                        else split end as split
            from q"""
    raise ValueError(rule)


STRATIFIED_FAILURES = """
with e as (select coalesce(region, '(no region)') as region, group_id, label, split from assigned_base),
sizes as (select region, group_id, count(*) as n from e group by all),
largest as (select region, max(n) as largest from sizes group by all),
region_share as (select region, avg(label) as p from e group by all),
split_share as (select region, split, count(*) as c, avg(label) as p from e group by all)
select count(*) from split_share
inner join region_share using (region)
inner join largest using (region)
where abs(split_share.p - region_share.p) > 0.01 + largest / c
"""

SHARE_DEVIATION = """
with c as (select region, split, count(*) as n from assigned_base where label = ? group by all),
t as (select region, sum(n) as total from c group by all),
targets as (select * from (values ('train', 0.70), ('validation', 0.15), ('test', 0.15)) v(split, target)),
shares as (select t.region, targets.target, coalesce(c.n, 0) / t.total as share
           from t cross join targets left join c on c.region = t.region and c.split = targets.split)
select avg(abs(share - target)) from shares
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workdirs", type=Path, nargs="+")
    ap.add_argument("--rules", default="old,hash,hash_cover,hash_guarded,deal_large,share_many,model")
    ap.add_argument("--salts", type=int, default=25, help="hash salts per warehouse ('split' first)")
    args = ap.parse_args()
    rules = args.rules.split(",")
    salts = ["split"] + [f"s{i}" for i in range(args.salts - 1)]
    con = duckdb.connect()
    keys = ("runs", "stratified_failures", "bot_strata_without_test", "bot_share_deviation",
            "human_share_deviation", "in_both_1", "moved_1", "in_both_7", "moved_7", "test_moves_7",
            "bots_in_both_7", "bots_moved_7")
    stats = {r: dict.fromkeys(keys, 0.0) for r in rules}
    for d in args.workdirs:
        for build in ("base", "plus1", "plus7"):
            con.execute(f"attach '{d / (build + '.duckdb')}' as w (read_only)")
            con.execute(f"create or replace table examples_{build} as select account_id, group_id, label, region "
                        "from w.intermediate.int_training__labelled_snapshots")
            con.execute("detach w")
        for salt in salts:
            for rule in rules:
                for build in ("base", "plus1", "plus7"):
                    con.execute(f"create or replace temp view examples as select * from examples_{build}")
                    con.execute(f"create or replace table assigned_{build} as select examples.*, s.split "
                                f"from examples inner join ({rule_sql(rule, salt)}) as s using (group_id)")
                st = stats[rule]
                st["runs"] += 1
                st["stratified_failures"] += con.execute(STRATIFIED_FAILURES).fetchone()[0] > 0
                st["bot_strata_without_test"] += con.execute(
                    "select count(*) from (select region from assigned_base where label = 1 group by region "
                    "having count(*) filter (where split = 'test') = 0)").fetchone()[0]
                st["bot_share_deviation"] += con.execute(SHARE_DEVIATION, [1]).fetchone()[0]
                st["human_share_deviation"] += con.execute(SHARE_DEVIATION, [0]).fetchone()[0]
                for days in (1, 7):
                    n, moved, test_moves = con.execute(f"""
                        select count(*), count(*) filter (where a.split <> b.split),
                               count(*) filter (where a.split <> b.split and 'test' in (a.split, b.split))
                        from assigned_base as b inner join assigned_plus{days} as a using (account_id)""").fetchone()
                    st[f"in_both_{days}"] += n
                    st[f"moved_{days}"] += moved
                    if days == 7:
                        st["test_moves_7"] += test_moves
                        bots, bots_moved = con.execute("""
                            select count(*), count(*) filter (where a.split <> b.split)
                            from assigned_base as b inner join assigned_plus7 as a using (account_id)
                            where b.label = 1""").fetchone()
                        st["bots_in_both_7"] += bots
                        st["bots_moved_7"] += bots_moved
    result = {}
    for rule, st in stats.items():
        runs = st["runs"]
        result[rule] = {
            "runs": int(runs),
            "stratified_test_failures": int(st["stratified_failures"]),
            "bot_strata_without_test_per_run": st["bot_strata_without_test"] / runs,
            "bot_share_deviation": st["bot_share_deviation"] / runs,
            "human_share_deviation": st["human_share_deviation"] / runs,
            "moved_1d": st["moved_1"] / st["in_both_1"],
            "moved_7d": st["moved_7"] / st["in_both_7"],
            "into_or_out_of_test_7d": st["test_moves_7"] / st["in_both_7"],
            "bots_moved_7d": st["bots_moved_7"] / st["bots_in_both_7"],
        }
        r = result[rule]
        print(f"{rule:<11} stratified test fails {r['stratified_test_failures']}/{r['runs']}; "
              f"|share - target| bots {r['bot_share_deviation']:.3f}, humans {r['human_share_deviation']:.3f}; "
              f"bot strata without test {r['bot_strata_without_test_per_run']:.2f}/run; "
              f"moved +1d {r['moved_1d']:.3%}, +7d {r['moved_7d']:.3%} "
              f"(into/out of test {r['into_or_out_of_test_7d']:.3%}; labelled bots {r['bots_moved_7d']:.3%})")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    path = out / f"split_rules_{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps({"workdirs": [str(d) for d in args.workdirs], "salts": len(salts),
                                "rules": result}, indent=2))
    print(f"saved {path}")


if __name__ == "__main__":
    main()
