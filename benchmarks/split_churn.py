"""How stable is the train/validation/test split across refreshes?

Simulates a platform, builds the training selector, records each labelled account's split,
then for every ``--extend`` value copies the warehouse, appends that many days
(:func:`botsift.simulate.extend_simulation`, what ``botsift simulate --extend-days`` does),
refreshes (an incremental ``dbt build --selector training``) and compares. For accounts
labelled in both builds it counts split changes by from -> to and by cause:

- ``group_changed``: the account's group id changed (its cluster merged with one holding a
  smaller account id, so the group is keyed differently);
- ``stratum_changed``: same group id, but the group's stratum (majority label x region) moved;
- ``group_size_changed``: same group and stratum, a different number of labelled rows;
- ``position_shift``: same group, stratum and size: only other groups moved it.

It also prints the realised split shares (rows and positives) per stratum of the base build.
Prints the figures and saves them as JSON under ``benchmarks/results/``.

    python benchmarks/split_churn.py --accounts 20000 --days 30 --extend 1 7
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from botsift.project import run_dbt
from botsift.simulate import SimulationConfig, extend_simulation, simulate_platform

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

SNAPSHOT = """
with examples as (
    select account_id, split, group_id, label, region
    from intermediate.int_training__labelled_snapshots
),
groups as (
    select
        group_id,
        count(*) as group_rows,
        case when avg(cast(label as double)) >= 0.5 then 1 else 0 end as stratum_label,
        min(region) as stratum_region
    from examples
    group by group_id
)
select examples.account_id, examples.split, examples.group_id, examples.label,
       groups.group_rows, groups.stratum_label,
       coalesce(groups.stratum_region, '(none)') as stratum_region
from examples
inner join groups using (group_id)
"""


def build(wh: Path, target: Path, project: Path, *extra: str) -> float:
    os.environ["BOTSIFT_WAREHOUSE"] = str(wh)
    t0 = time.perf_counter()
    run_dbt(["build", "--selector", "training", *extra, "--target-path", str(target)],
            project, quiet=True)
    return time.perf_counter() - t0


def snapshot(wh: Path, copy_to: duckdb.DuckDBPyConnection, name: str) -> None:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        table = con.sql(SNAPSHOT).to_arrow_table()
    finally:
        con.close()
    copy_to.register("_snap", table)
    copy_to.execute(f"create or replace table {name} as select * from _snap")
    copy_to.unregister("_snap")


def shares(con: duckdb.DuckDBPyConnection, name: str) -> list[dict[str, object]]:
    """Realised split shares of rows and of positives per stratum (label x region)."""
    rows = con.execute(f"""
        select stratum_label, stratum_region, split,
               count(*) as n_rows, sum(label) as n_pos, count(distinct group_id) as n_groups,
               count(*) / sum(count(*)) over (partition by stratum_label, stratum_region) as row_share
        from {name}
        group by stratum_label, stratum_region, split
        order by stratum_label desc, stratum_region, split""").fetchall()
    cols = ["stratum_label", "stratum_region", "split", "rows", "positives", "groups", "row_share"]
    return [dict(zip(cols, r, strict=True)) for r in rows]


def compare(con: duckdb.DuckDBPyConnection, before: str, after: str) -> dict[str, object]:
    common = con.execute(
        f"select count(*) from {before} inner join {after} using (account_id)").fetchone()[0]
    moved = con.execute(f"""
        select b.split as from_split, a.split as to_split,
               case
                   when a.group_id <> b.group_id then 'group_changed'
                   when a.stratum_label <> b.stratum_label
                        or a.stratum_region <> b.stratum_region then 'stratum_changed'
                   when a.group_rows <> b.group_rows then 'group_size_changed'
                   else 'position_shift'
               end as cause,
               count(*) as n
        from {before} as b
        inner join {after} as a using (account_id)
        where a.split <> b.split
        group by all
        order by n desc""").fetchall()
    n_moved = sum(r[3] for r in moved)
    by_pair: dict[str, int] = {}
    by_cause: dict[str, int] = {}
    for f, t, cause, n in moved:
        by_pair[f"{f}->{t}"] = by_pair.get(f"{f}->{t}", 0) + n
        by_cause[cause] = by_cause.get(cause, 0) + n
    into_or_out_of_test = sum(n for f, t, _, n in moved if "test" in (f, t))
    groups_changed = con.execute(f"""
        select count(*) from {before} as b inner join {after} as a using (account_id)
        where a.group_id <> b.group_id""").fetchone()[0]
    by_label = {
        f"label_{label}": {"in_both": n, "moved": m, "into_or_out_of_test": t}
        for label, n, m, t in con.execute(f"""
            select b.stratum_label, count(*),
                   count(*) filter (where a.split <> b.split),
                   count(*) filter (where a.split <> b.split and 'test' in (a.split, b.split))
            from {before} as b
            inner join {after} as a using (account_id)
            group by b.stratum_label
            order by b.stratum_label""").fetchall()}
    return {
        "accounts_in_both": common,
        "by_stratum_label": by_label,
        "accounts_only_before": con.execute(
            f"select count(*) from {before} anti join {after} using (account_id)").fetchone()[0],
        "accounts_only_after": con.execute(
            f"select count(*) from {after} anti join {before} using (account_id)").fetchone()[0],
        "moved": n_moved,
        "moved_share": n_moved / common if common else None,
        "into_or_out_of_test": into_or_out_of_test,
        "into_or_out_of_test_share": into_or_out_of_test / common if common else None,
        "by_from_to": by_pair,
        "by_cause": by_cause,
        "accounts_whose_group_id_changed": groups_changed,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--drift-day", type=int, default=21, help="day a new bot family appears; -1 for none")
    ap.add_argument("--extend", type=int, nargs="+", default=[1, 7])
    ap.add_argument("--workdir", type=Path, help="keep warehouses here (default: a temp dir)")
    ap.add_argument("--project-dir", type=Path, default=ROOT)
    ap.add_argument("--label", default="", help="suffix for the results file")
    args = ap.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="split_churn_"))
    work.mkdir(parents=True, exist_ok=True)
    base = work / "base.duckdb"
    if base.exists():
        base.unlink()
    drift_day = None if args.drift_day < 0 else args.drift_day
    simulate_platform(SimulationConfig(n_accounts=args.accounts, days=args.days, seed=args.seed,
                                       drift_day=drift_day), base)
    seconds = {"base": build(base, work / "target", args.project_dir, "--full-refresh")}
    snaps = duckdb.connect()
    snapshot(base, snaps, "base")
    result: dict[str, object] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "accounts": args.accounts, "days": args.days, "seed": args.seed, "drift_day": drift_day,
        "project_dir": str(args.project_dir),
        "base_examples": snaps.execute("select count(*) from base").fetchone()[0],
        "base_shares": shares(snaps, "base"),
        "extensions": {},
    }
    for k in args.extend:
        wh = work / f"plus{k}.duckdb"
        shutil.copy(base, wh)
        extend_simulation(wh, k)
        seconds[f"plus{k}"] = build(wh, work / "target", args.project_dir)
        snapshot(wh, snaps, f"plus{k}")
        cmp = compare(snaps, "base", f"plus{k}")
        cmp["shares"] = shares(snaps, f"plus{k}")
        result["extensions"][str(k)] = cmp  # type: ignore[index]
    result["build_seconds"] = seconds

    print(f"base: {result['base_examples']} labelled examples")
    for s in result["base_shares"]:  # type: ignore[attr-defined]
        print(f"  label={s['stratum_label']} {s['stratum_region']:<10} {s['split']:<10} "
              f"rows {s['rows']:>6} ({s['row_share']:.3f})  groups {s['groups']:>5}")
    for k, cmp in result["extensions"].items():  # type: ignore[attr-defined]
        print(f"+{k} day(s): {cmp['accounts_in_both']} accounts in both, "
              f"{cmp['moved']} moved ({cmp['moved_share']:.2%}), "
              f"{cmp['into_or_out_of_test']} into/out of test ({cmp['into_or_out_of_test_share']:.2%})")
        print(f"  from->to: {cmp['by_from_to']}")
        print(f"  cause:    {cmp['by_cause']}")
        print(f"  by the group's majority label: {cmp['by_stratum_label']}")
        print(f"  accounts whose group id changed: {cmp['accounts_whose_group_id_changed']}")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = out / f"split_churn_{args.accounts}_{stamp}{('_' + args.label) if args.label else ''}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    print(f"saved {path}")


if __name__ == "__main__":
    main()
