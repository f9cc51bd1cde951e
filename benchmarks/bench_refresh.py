"""Benchmark a scheduled refresh: one more day of platform data, then a plain ``dbt build``.

Usage::

    python benchmarks/bench_refresh.py --warehouse /tmp/bench/wh.duckdb \
        --artifacts /tmp/bench/artifacts --expectations-dir /tmp/bench/expectations

The warehouse must hold a simulation whose features are built and a registry with an active
model with its drift reference (``bench_features.py``, then ``bench_train.py --promote-into
ARTIFACTS --expectations-dir EXPECTATIONS``; without the reference the monitoring marts stay
empty and cost nothing). Three steps, each a fresh subprocess:

1. ``dbt build`` (everything), to bring the scores and monitoring marts up to date: a first
   build of them scores the last ``score_backfill_days`` snapshots. Timed, reported as
   ``catch_up``; skipped with ``--no-catch-up`` when they are current already;
2. the simulator appends ``--days`` days of events (``botsift simulate --extend-days``);
3. ``dbt build`` again: the refresh a scheduler runs. Its wall time (dbt's start-up
   included), dbt's peak RSS, the slowest nodes and the rows it added are reported.

The warehouse is changed (a day longer, scored); copy it first to keep the original. Saves
JSON to ``benchmarks/results/refresh.json``.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from botsift.project import dbt_env, project_dir

log = logging.getLogger("bench_refresh")

COUNTED = ["marts.fct_account_features", "marts.ml_bot_scores", "monitoring.mon_feature_drift",
           "monitoring.mon_feature_validation", "monitoring.mon_score_drift"]


def _rows(path: Path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for table in COUNTED:
            schema, name = table.split(".")
            exists = con.execute("select count(*) from duckdb_tables() where schema_name = ? "
                                 "and table_name = ?", [schema, name]).fetchall()[0][0]
            out[table] = int(con.execute(f"select count(*) from {table}").fetchall()[0][0]) if exists else 0
        return out
    finally:
        con.close()


def timed_dbt(env: dict[str, str], dbt_args: list[str]) -> tuple[float, list[dict]]:
    """Run dbt with ``dbt_args`` in this project: its wall time (start-up included) and the
    results of its nodes (``run_results.json``). A failed run prints dbt's output and exits."""
    with tempfile.TemporaryDirectory() as target:
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", "from dbt.cli.main import cli; cli()", *dbt_args,
                              "--project-dir", str(project_dir()), "--target-path", target],
                             cwd=project_dir(), env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        if out.returncode != 0:
            print(out.stdout[-4000:], file=sys.stderr)
            raise SystemExit(out.returncode)
        return wall, json.loads((Path(target) / "run_results.json").read_text())["results"]


def _dbt_child(args: argparse.Namespace) -> None:
    """Intermediate process: run ``dbt build``; print its wall time, peak RSS and node times."""
    env = dbt_env(project_dir())
    env.update(BOTSIFT_WAREHOUSE=str(args.warehouse), BOTSIFT_ARTIFACTS=str(args.artifacts),
               BOTSIFT_EXPECTATIONS_DIR=str(args.expectations_dir))
    wall, results = timed_dbt(env, ["build"])
    nodes = sorted(((round(r["execution_time"], 2), r["unique_id"].split(".", 1)[1])
                    for r in results), reverse=True)
    print(json.dumps({
        "wall_s": round(wall, 1),
        "dbt_peak_rss_gib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2, 2),
        "nodes": len(results),
        "warnings": sum(r["status"] == "warn" for r in results),
        "warned": [[r["unique_id"].split(".", 1)[1], (r.get("message") or "")[:200]]
                   for r in results if r["status"] == "warn"],
        "slowest_nodes_s": nodes[:10],
    }))


def _build(args: argparse.Namespace) -> dict[str, object]:
    out = subprocess.run([sys.executable, __file__, "--dbt-child", "--warehouse", str(args.warehouse),
                          "--artifacts", str(args.artifacts),
                          "--expectations-dir", str(args.expectations_dir)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"dbt build failed:\n{out.stderr[-4000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Run the benchmark and return its figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse", type=Path, required=True)
    ap.add_argument("--artifacts", type=Path, required=True, help="the registry's model folder")
    ap.add_argument("--expectations-dir", type=Path, required=True,
                    help="the Great Expectations root the version's suite was written to")
    ap.add_argument("--days", type=int, default=1, help="days of platform data the refresh adds")
    ap.add_argument("--no-catch-up", action="store_true",
                    help="skip step 1 (the scores and monitoring marts are current already)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/refresh.json"))
    ap.add_argument("--dbt-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.warehouse, args.artifacts = args.warehouse.resolve(), args.artifacts.resolve()
    args.expectations_dir = args.expectations_dir.resolve()
    if args.dbt_child:
        _dbt_child(args)
        return {}
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    result: dict[str, object] = {"benchmark": "refresh", "days": args.days, "cpus": os.cpu_count(),
                                 "python": platform.python_version()}
    if not args.no_catch_up:
        log.info("catch-up dbt build")
        result["catch_up"] = _build(args)
        log.info("catch-up: %s", result["catch_up"])
    before = _rows(args.warehouse)
    from botsift.simulate import extend_simulation

    t0 = time.perf_counter()
    extend_simulation(args.warehouse, args.days)
    result["simulate_extend_s"] = round(time.perf_counter() - t0, 1)
    log.info("refresh dbt build")
    result["refresh"] = _build(args)
    after = _rows(args.warehouse)
    result["rows_added"] = {t: after[t] - before[t] for t in COUNTED}
    result["rows_after"] = after
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
