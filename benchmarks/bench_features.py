"""Benchmark building features and labels with dbt: wall time and peak memory.

Usage::

    python benchmarks/bench_features.py --warehouse /tmp/bench/wh.duckdb --accounts 1000000

Simulates the platform into ``--warehouse`` first when it holds no raw tables, then runs
``dbt build --select +ml_training_examples`` (staging, features, labels, split, tests) in a
subprocess and records its wall time and the subprocess's peak RSS (``ru_maxrss`` of
children). Saves JSON to ``benchmarks/results/features.json``.
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
import time
from pathlib import Path

import duckdb

from botsift.project import dbt_env, project_dir

log = logging.getLogger("bench_features")


def _has_raw(path: Path) -> bool:
    if not path.exists():
        return False
    con = duckdb.connect(str(path), read_only=True)
    try:
        return bool(con.sql("select count(*) from duckdb_tables() where schema_name = 'raw' "
                            "and table_name = 'accounts'").fetchone()[0])  # type: ignore[index]
    finally:
        con.close()


def _table_rows(path: Path, tables: list[str]) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t: int(con.sql(f"select count(*) from {t}").fetchone()[0]) for t in tables}  # type: ignore[index]
    finally:
        con.close()


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Run the benchmark and return its figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse", type=Path, required=True)
    ap.add_argument("--accounts", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--selector", default="training")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/features.json"))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    root = project_dir()
    wh = args.warehouse.resolve()
    if not _has_raw(wh):
        from botsift.simulate import SimulationConfig, simulate_platform

        log.info("simulating %s accounts x %s days", f"{args.accounts:,}", args.days)
        wh.parent.mkdir(parents=True, exist_ok=True)
        simulate_platform(SimulationConfig(n_accounts=args.accounts, days=args.days), wh)
    env = dbt_env(root)
    env["BOTSIFT_WAREHOUSE"] = str(wh)
    cmd = [sys.executable, "-c", "from dbt.cli.main import cli; cli()", "build",
           "--selector", args.selector, "--full-refresh", "--project-dir", str(root)]
    log.info("running %s", " ".join(cmd[3:]))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    timings = [ln for ln in proc.stdout.splitlines() if " OK created" in ln or " PASS " in ln]
    slowest = sorted(
        ((float(ln.rsplit(" in ", 1)[1].split("s")[0]), ln.split(" model ")[-1].split(" ")[0])
         for ln in timings if " in " in ln and " model " in ln), reverse=True)[:8]
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:])
        raise SystemExit(f"dbt build failed (exit {proc.returncode})")
    rows = _table_rows(wh, ["marts.fct_account_features", "marts.fct_account_labels",
                            "marts.ml_training_examples", "raw.posts", "raw.logins"])
    result = {
        "benchmark": "features",
        "selector": args.selector,
        "accounts": args.accounts,
        "days": args.days,
        "wall_s": round(wall, 1),
        "dbt_peak_rss_gib": round(peak_kib / 1024**2, 2),
        "rows": rows,
        "slowest_models_s": slowest,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
