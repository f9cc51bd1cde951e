"""Benchmark the monitoring marts over the score history: a full rebuild against a refresh.

Usage::

    python benchmarks/bench_monitoring.py --warehouse /tmp/bench/wh.duckdb \
        --artifacts /tmp/bench/artifacts --extra-blocks 2

The warehouse must hold scores (``bench_features.py``, ``bench_train.py --promote-into``,
then a ``dbt build``, as ``bench_refresh.py`` leaves it). It is copied to a scratch file and
the copy is changed, never the original. ``mon_score_drift``, ``mon_segment_fairness``,
``mon_model_performance`` and ``mon_shadow_outcomes`` read the whole score history, which a
refresh lengthens by a snapshot a day; they are incremental, recomputing the dates from
``monitoring_recompute_days`` (or ``score_backfill_days``) before their last one on. Timed,
each a fresh ``dbt run`` of the four (and the ``fct_bot_scores`` view under them), alternated
``--repeats`` times: ``full`` (``--full-refresh``: every date, as each build did before) and
``refresh`` (incremental, on the table the previous run left). Then the copy's history is made
longer by ``--extra-blocks`` copies of its scored dates (scores and their feature snapshots,
shifted back by the span of the scored dates, account ids kept), and both are timed again:
a full rebuild grows with the history, a refresh should not. Per mart, dbt's node time
(median of the repeats); per run, wall time and dbt's peak RSS. Saves JSON to
``benchmarks/results/monitoring.json``.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

from bench_refresh import timed_dbt
from botsift.project import dbt_env, project_dir

log = logging.getLogger("bench_monitoring")

MARTS = ["mon_score_drift", "mon_segment_fairness", "mon_model_performance", "mon_shadow_outcomes"]


def _dbt_child(args: argparse.Namespace) -> None:
    """Intermediate process: one ``dbt run`` of the marts; print wall time, peak RSS, node times."""
    env = dbt_env(project_dir())
    env.update(BOTSIFT_WAREHOUSE=str(args.warehouse), BOTSIFT_ARTIFACTS=str(args.artifacts))
    wall, results = timed_dbt(env, ["run", "--select", "fct_bot_scores", *MARTS,
                                    *(["--full-refresh"] if args.full else [])])
    print(json.dumps({
        "wall_s": round(wall, 2),
        "dbt_peak_rss_gib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2, 2),
        "nodes": {r["unique_id"].rsplit(".", 1)[1]: round(r["execution_time"], 2) for r in results},
    }))


def _run(args: argparse.Namespace, warehouse: Path, *, full: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", "--warehouse", str(warehouse),
           "--artifacts", str(args.artifacts)] + (["--full"] if full else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"dbt run failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _history(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {"scored_dates": con.execute("select count(distinct as_of_date) from marts.ml_bot_scores")
            .fetchall()[0][0],
            "score_rows": con.execute("select count(*) from marts.ml_bot_scores").fetchall()[0][0]}


def _lengthen(path: Path, blocks: int) -> None:
    """Prepend ``blocks`` copies of the scored dates to the history: scores (``scored_at``
    shifted alike, so the version in force on a date is the same) and the feature snapshots
    of those dates (the fairness mart joins them)."""
    con = duckdb.connect(str(path))
    try:
        first, last = con.execute("select min(as_of_date), max(as_of_date) from marts.ml_bot_scores"
                                  ).fetchall()[0]
        span = (last - first).days + 1
        for k in range(1, blocks + 1):
            shift = k * span
            con.execute(f"""insert into marts.ml_bot_scores
                select * replace (as_of_date - {shift} as as_of_date,
                                  scored_at - interval ({shift}) day as scored_at)
                from marts.ml_bot_scores
                where as_of_date between date '{first}' and date '{last}'""")
            con.execute(f"""insert into marts.fct_account_features
                select * replace (as_of_date - {shift} as as_of_date)
                from marts.fct_account_features
                where as_of_date between date '{first}' and date '{last}'""")
            log.info("history lengthened by %d days", shift)
        con.execute("checkpoint")
    finally:
        con.close()


def _phase(args: argparse.Namespace, scratch: Path) -> dict:
    con = duckdb.connect(str(scratch), read_only=True)
    history = _history(con)
    con.close()
    runs: dict[str, list[dict]] = {"full": [], "refresh": []}
    _run(args, scratch, full=True)  # the incremental tables as a build leaves them
    for _ in range(args.repeats):
        for kind in ("full", "refresh"):
            r = _run(args, scratch, full=kind == "full")
            runs[kind].append(r)
            log.info("%s: %s", kind, r)
    out: dict = {"history": history}
    for kind, rs in runs.items():
        out[kind] = {
            "wall_s": statistics.median(r["wall_s"] for r in rs),
            "dbt_peak_rss_gib": max(r["dbt_peak_rss_gib"] for r in rs),
            "node_s": {m: statistics.median(r["nodes"][m] for r in rs) for m in MARTS},
            "marts_s": statistics.median(sum(r["nodes"][m] for m in MARTS) for r in rs),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse", type=Path, required=True)
    ap.add_argument("--artifacts", type=Path, required=True)
    ap.add_argument("--extra-blocks", type=int, default=2,
                    help="copies of the scored dates prepended for the second measurement")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--scratch-dir", type=Path, default=None,
                    help="where the copy goes (default: a temporary directory)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--full", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=project_dir() / "benchmarks" / "results" / "monitoring.json")
    args = ap.parse_args()
    if args.child:
        _dbt_child(args)
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with tempfile.TemporaryDirectory(dir=args.scratch_dir) as tmp:
        scratch = Path(tmp) / "monitoring.duckdb"
        shutil.copy(args.warehouse, scratch)
        result: dict = {"benchmark": "monitoring", "cpus": os.cpu_count(),
                        "python": platform.python_version(), "repeats": args.repeats,
                        "as_is": _phase(args, scratch)}
        log.info("as is: %s", result["as_is"])
        if args.extra_blocks > 0:
            _lengthen(scratch, args.extra_blocks)
            result["lengthened"] = _phase(args, scratch)
            log.info("lengthened: %s", result["lengthened"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
