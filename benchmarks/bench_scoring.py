"""Benchmark in-warehouse scoring against raw onnxruntime, and its memory at 1M vs 5M rows.

Usage::

    python benchmarks/bench_scoring.py --warehouse /tmp/bench/wh.duckdb

The warehouse must hold ``marts.fct_account_features`` and an active model in the registry
(for example the demo's: ``botsift demo`` writes ``warehouse/botsift.duckdb``). The benchmark
works on a copy whose feature table is the latest snapshot repeated to ``--rows`` rows
(account ids offset per copy), so a small warehouse gives a 1M-row scoring run.

Throughput, side by side in one run, on the latest snapshot's rows:

* ``warehouse``: the code path of the ``ml_bot_scores`` dbt model (DuckDB relation -> Arrow
  record batches -> float32 matrix -> onnxruntime -> Arrow batches -> ENUM-coded relation ->
  ``create table as`` on the model's connection, as dbt-duckdb writes it),
  for the deployed ensemble and for a logistic regression alone (same features);
* ``raw``: onnxruntime on float32 numpy matrices of the same rows already in memory, in
  batches of the same size, routed as deployed (each region model on its region's rows, the
  global model on the rest); building and splitting the matrices is not timed. Sessions
  with onnxruntime's default threads (each run split across every core), run one after the
  other: onnxruntime as one would call it;
* ``raw_parallel``: the same matrices through the product's single-thread sessions, one
  matrix per core at a time (the scheme the warehouse path uses): its ceiling;
* ``no_write``: the warehouse path with its score batches dropped instead of written (reading,
  matrices and onnxruntime only): how close any write could get to raw;
* ``without_text`` (ensemble): the warehouse path writing every score column but the two text
  ones, ``region`` and ``top_features``: what storing them costs (a probe; the product
  writes both);
* ``dbt``: the real ``dbt run --select ml_bot_scores`` for the ensemble (dbt's own node time,
  about 0.8 s of it fixed: a 1,000-row run takes that long), as a first build
  (``--full-refresh``) and as a refresh re-scoring the same date (``dbt_refresh_seconds``,
  median of up to 3; the ratio uses the rounds' raw median);
* ``history`` (``--history``, ensemble): the warehouse path on the real feature table, every
  as-of date, scoring its last two dates as a refresh does (the re-scored newest and the new
  one), with the rows as a full build lays them out and after an incremental refresh's
  delete+insert of those dates; by rows per second against raw and against the same path on
  the compact latest snapshot (``warehouse_over_compact``: the layout's own effect), in the
  same rounds.

Memory: the warehouse path in a fresh subprocess on a copy of the latest snapshot repeated
to 1M and to 5M rows; peak RSS of each (``VmHWM`` of the subprocess). Beside each, a fresh
subprocess that loads the same models and only scans the same rows (``scan_only``): DuckDB's
own share of the peak (its buffer pool caches the blocks a scan reads, up to
``memory_limit``), so ``scoring_above_scan_mib`` is what scoring holds on top of a scan.
With ``--dbt-memory``, the same sizes through the real ``dbt run --select ml_bot_scores``
under the profile's ``duckdb`` target and its ``duckdb_capped`` one (DuckDB's
``memory_limit`` from ``BOTSIFT_MEMORY_LIMIT``, default 128MB): dbt's own peak RSS.
Each repeat is one round of every path back to back; a ratio is the median over rounds of
that round's ratio (``warehouse_over_raw_rounds`` lists them), rows per second the median
over rounds. Saves JSON to
``benchmarks/results/scoring.json``.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np

from botsift.project import dbt_env, project_dir
from botsift.scoring import DeployedModel, default_workers, feature_matrix
from botsift.scoring_model import deployed_models, score_relation, score_snapshot

log = logging.getLogger("bench_scoring")

# The score table's two text columns (the others are ENUMs, numbers and dates): the
# ``without_text`` probe writes the scores without them, to show what they cost.
TEXT_COLUMNS = ("region", "top_features")


def _lr_model(con: duckdb.DuckDBPyConnection, active: DeployedModel, out: Path) -> DeployedModel:
    """A logistic regression on the same features (trained on the labelled examples), as ONNX."""
    import hashlib

    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    cols = ", ".join(f'"{c}"' for c in active.features)
    data = con.execute(f"select {cols}, label from marts.ml_training_examples "
                       "using sample 200000 rows (reservoir, 7)").fetchnumpy()
    x = np.column_stack([np.ma.filled(np.ma.asarray(data[c], dtype=np.float32), np.nan)
                         for c in active.features])
    y = np.asarray(data["label"], dtype=int)
    pipe = Pipeline([("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                     ("scale", StandardScaler()),
                     ("lr", LogisticRegression(class_weight="balanced", max_iter=500))]).fit(x, y)
    onx = convert_sklearn(pipe, initial_types=[("input", FloatTensorType([None, x.shape[1]]))],
                          options={id(pipe.steps[-1][1]): {"zipmap": False}}).SerializeToString()
    path = out / "lr.onnx"
    path.write_bytes(onx)
    return DeployedModel("bench-lr", "global", "active", path, hashlib.sha256(onx).hexdigest(),
                         list(active.features), dict(active.feature_types), 0.9, 0.5)


def _warehouse_path(con: duckdb.DuckDBPyConnection, relation: str, models: list[DeployedModel],
                    batch: int, *, drop: tuple[str, ...] = (), dates: int = 1) -> float:
    """Seconds for the dbt model's code path, writing the scores into a table.

    ``drop`` leaves score columns out of the write (DuckDB pushes the projection into its
    Arrow scan, so those columns are built but never converted or stored): a probe of what
    the score table's columns cost, not a path the product runs.
    """
    features = con.table(relation)
    t0 = time.perf_counter()
    scores = score_snapshot_with(con, features, models, batch, score_relation, dates=dates)
    if drop:
        scores = scores.project(", ".join(f'"{c}"' for c in scores.columns if c not in drop))
    # as dbt-duckdb materializes the relation the model returns: on the model's connection
    con.register("score_relation", scores)
    con.execute("create or replace table bench_scores as select * from score_relation")
    con.unregister("score_relation")
    return time.perf_counter() - t0


def _no_write_path(con: duckdb.DuckDBPyConnection, relation: str, models: list[DeployedModel],
                   batch: int) -> float:
    """Seconds for the same path without the write: score batches are produced and dropped.

    The ceiling of the warehouse path on this machine: reading the features out of DuckDB,
    building the matrices and onnxruntime, with nothing written back.
    """
    features = con.table(relation)
    t0 = time.perf_counter()
    for _ in score_snapshot_with(con, features, models, batch):
        pass
    return time.perf_counter() - t0


def score_snapshot_with(con, features, models, batch, how=score_snapshot, dates=1):  # type: ignore[no-untyped-def]
    """score_snapshot (or ``how``) with given models (the registry lookup is what dbt does first),
    on the last ``dates`` as-of dates."""
    import botsift.scoring_model as sm

    real = sm.deployed_models
    sm.deployed_models = lambda _con, *a, **k: models  # type: ignore[assignment]
    try:
        return how(con, features, batch_size=batch, backfill_days=dates,
                              scored_at=datetime(2026, 1, 1))
    finally:
        sm.deployed_models = real  # type: ignore[assignment]


def _raw_path(con: duckdb.DuckDBPyConnection, relation: str, models: list[DeployedModel],
              batch: int, *, parallel: bool = False) -> tuple[float, int]:
    """Seconds for onnxruntime alone on the latest snapshot's rows, routed as deployed.

    Each batch's rows are split, before the clock starts, into one contiguous float32
    matrix per model (a region's rows to its region model, the rest to the global one), so
    only ``InferenceSession.run`` is timed: the same models on the same rows as the
    warehouse path, with none of its reading, routing or writing.

    ``parallel=False`` is onnxruntime as one would call it: one session per model with its
    default threads (every core splits each run), spinning off, the matrices run one after
    the other. ``parallel=True`` is onnxruntime the way the product calls it: the product's
    single-thread sessions, one matrix per core at a time (the ceiling of that scheme).
    """
    import onnxruntime as ort

    latest = con.execute(f"select max(as_of_date) from {relation}").fetchall()[0][0]
    features = models[0].features
    reader = (con.table(relation).filter(f"as_of_date = date '{latest}'")
              .project(", ".join(f'"{c}"' for c in ["region", *features])).to_arrow_reader(batch))
    regional = [m for m in models if m.segment != "global"]
    glob = next(m for m in models if m.segment == "global")
    work: list[tuple[DeployedModel, np.ndarray]] = []
    rows = 0
    for b in reader:
        matrix = feature_matrix(b, features)
        regions = np.asarray(b.column("region").to_pylist(), dtype=object)
        rest = np.ones(len(matrix), dtype=bool)
        for m in regional:
            mask = (regions == m.segment) & rest
            if mask.any():
                work.append((m, np.ascontiguousarray(matrix[mask])))
            rest &= ~mask
        if rest.any():
            work.append((glob, np.ascontiguousarray(matrix[rest])))
        rows += len(matrix)
    if parallel:
        sessions = {id(m): m.session() for m in models}
    else:
        opts = ort.SessionOptions()
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sessions = {id(m): ort.InferenceSession(m.onnx_path.read_bytes(), sess_options=opts,
                                                providers=["CPUExecutionProvider"])
                    for m in models}

    def run(item: tuple[DeployedModel, np.ndarray]) -> None:
        sess = sessions[id(item[0])]
        sess.run(["probabilities"], {sess.get_inputs()[0].name: item[1]})

    t0 = time.perf_counter()
    if parallel:
        with ThreadPoolExecutor(default_workers()) as pool:
            list(pool.map(run, work))
    else:
        for item in work:
            run(item)
    return time.perf_counter() - t0, rows


def _child(args: argparse.Namespace) -> None:
    """Subprocess: score --relation of the scratch db with the active model; print peak RSS.

    With ``--scan-only`` it loads the same models the same way, then only reads the rows the
    scoring query reads (same columns, same batches) and drops them: the memory a bare DuckDB
    scan of the feature table holds, which the scoring run's figure includes.
    """
    con = duckdb.connect(str(args.scratch), read_only=False)
    if args.duckdb_memory_limit:
        con.execute(f"set memory_limit = '{args.duckdb_memory_limit}'")
    src = duckdb.connect(str(args.warehouse), read_only=True)
    models = [m for m in deployed_models(src) if m.status == "active"]
    src.close()
    for m in models:
        m.session()
    if args.scan_only:
        cols = ", ".join(f'"{c}"' for c in ["account_id", "as_of_date", "region", *models[0].features])
        t0 = time.perf_counter()
        n = sum(b.num_rows for b in con.table("features").project(cols).to_arrow_reader(args.batch_size))
        secs = time.perf_counter() - t0
    else:
        secs = _warehouse_path(con, "features", models, args.batch_size)
        n = con.execute("select count(*) from bench_scores").fetchall()[0][0]
    # DuckDB's buffer pool keeps the blocks it read (features) and wrote (scores) up to
    # memory_limit: the part of the peak that grows with the table, not with the batch
    cache = con.execute("select sum(memory_usage_bytes) from duckdb_memory()").fetchall()[0][0]
    print(json.dumps({"rows": n, "seconds": secs, "peak_rss_mib": _own_peak_rss_mib(),
                      "duckdb_buffer_mib_after": round((cache or 0) / 2**20, 1),
                      "duckdb_memory_limit": args.duckdb_memory_limit or "default"}))


def _own_peak_rss_mib() -> float:
    """Peak RSS of this process since it started (VmHWM).

    Not ``ru_maxrss``: Linux carries the parent's high-water mark across fork and exec, so a
    child started by a parent holding the warehouse copy reported the parent's peak (the
    first version of this benchmark read 4,739 MiB at 1M and at 5M rows for that reason).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _memory_run(args: argparse.Namespace, rows: int, tmp: Path) -> dict[str, object]:
    """Peak RSS of scoring ``rows`` rows in a fresh process, and of a bare scan of them."""
    scratch = tmp / f"scores_{rows}.duckdb"
    con = duckdb.connect(str(scratch))
    con.execute(f"attach '{args.warehouse}' as wh (read_only)")
    _replicate(con, "wh.marts.fct_account_features", rows, "features")
    con.close()
    runs = {}
    for mode in ("scoring", "scan_only"):
        out = subprocess.run([sys.executable, __file__, "--child", "--warehouse", str(args.warehouse),
                              "--scratch", str(scratch), "--batch-size", str(args.batch_size),
                              *(["--scan-only"] if mode == "scan_only" else []),
                              *(["--duckdb-memory-limit", args.duckdb_memory_limit]
                                if args.duckdb_memory_limit else [])],
                             capture_output=True, text=True, check=True)
        runs[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    scratch.unlink()
    result: dict[str, object] = dict(runs["scoring"])
    result["scan_only"] = runs["scan_only"]
    return result


def _dbt_memory_run(args: argparse.Namespace, rows: int, tmp: Path, target: str) -> dict[str, object]:
    """Peak RSS of the real ``dbt run --select ml_bot_scores`` scoring ``rows`` rows.

    The scratch warehouse holds only what the model reads: ``marts.fct_account_features``
    (the latest snapshot repeated to ``rows``) and the registry. ``target`` is a profile
    output: ``duckdb`` (DuckDB's default ``memory_limit``) or ``duckdb_capped``
    (``BOTSIFT_MEMORY_LIMIT``, default 128MB). Measured in a fresh intermediate process whose
    only child is dbt, so its ``RUSAGE_CHILDREN`` peak is dbt's.
    """
    scratch = tmp / f"dbt_{rows}.duckdb"
    con = duckdb.connect(str(scratch))
    con.execute(f"attach '{args.warehouse}' as wh (read_only)")
    con.execute("create schema marts")
    con.execute("create schema registry")
    _replicate(con, "wh.marts.fct_account_features", rows, "marts.fct_account_features")
    con.execute("create table registry.model_versions as select * from wh.registry.model_versions")
    con.close()
    out = subprocess.run([sys.executable, __file__, "--dbt-child", "--warehouse", str(args.warehouse),
                          "--scratch", str(scratch),
                          "--target", target, "--batch-size", str(args.batch_size)],
                         capture_output=True, text=True, check=False)
    scratch.unlink()
    if out.returncode != 0:
        raise SystemExit(f"dbt memory run failed ({target}, {rows} rows):\n{out.stdout[-3000:]}{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _dbt_child(args: argparse.Namespace) -> None:
    """Intermediate process: run dbt on the scratch warehouse; print dbt's peak RSS."""
    env = dbt_env(project_dir())
    env.update(BOTSIFT_WAREHOUSE=str(args.scratch), BOTSIFT_TARGET=args.target)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", "from dbt.cli.main import cli; cli()", "run",
                          "--select", "ml_bot_scores", "--full-refresh", "--vars",
                          f"{{score_backfill_days: 1, score_batch_size: {args.batch_size}}}",
                          "--project-dir", str(project_dir())],
                         cwd=project_dir(), env=env, capture_output=True, text=True, check=False)
    secs = time.perf_counter() - t0
    if out.returncode != 0:
        print(out.stdout[-3000:], file=sys.stderr)
        raise SystemExit(out.returncode)
    con = duckdb.connect(str(args.scratch), read_only=True)
    n = con.execute("select count(*) from marts.ml_bot_scores").fetchall()[0][0]
    con.close()
    print(json.dumps({"rows": n, "target": args.target, "seconds": round(secs, 2),
                      "dbt_peak_rss_mib": round(
                          resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)}))


def _replicate(con: duckdb.DuckDBPyConnection, source: str, rows: int, table: str) -> int:
    """Create ``table`` as the latest snapshot of ``source`` repeated to ``rows`` rows."""
    latest = con.execute(f"select max(as_of_date) from {source}").fetchall()[0][0]
    n = con.execute(f"select count(*) from {source} where as_of_date = ?", [latest]).fetchall()[0][0]
    copies = -(-rows // n)
    con.execute(f"""create or replace table {table} as
        select * replace (f.account_id + k.k * 100000000 as account_id)
        from {source} f, range({copies}) k(k)
        where f.as_of_date = date '{latest}' limit {rows}""")
    return int(con.execute(f"select count(*) from {table}").fetchall()[0][0])


def _dbt_model_seconds(args: argparse.Namespace, warehouse: Path, *,
                       full_refresh: bool = True) -> float | None:
    """dbt's own time for ``ml_bot_scores`` on ``warehouse``: a first build (``create table
    as``) or, without ``full_refresh``, a refresh re-scoring the latest date (its rows
    deleted, then scored and inserted again)."""
    env = dbt_env(project_dir())
    env["BOTSIFT_WAREHOUSE"] = str(warehouse)
    out = subprocess.run([sys.executable, "-c", "from dbt.cli.main import cli; cli()", "run",
                          "--select", "ml_bot_scores", *(["--full-refresh"] if full_refresh else []),
                          "--vars",
                          f"{{score_backfill_days: 1, score_batch_size: {args.batch_size}}}",
                          "--project-dir", str(project_dir())],
                         cwd=project_dir(), env=env, capture_output=True, text=True, check=False)
    m = re.search(r"OK created python \w+ model \S+ .*? in ([0-9.]+)s", out.stdout)
    if out.returncode != 0 or not m:
        log.warning("dbt run failed: %s", out.stdout[-2000:])
        return None
    return float(m.group(1))


def _history(con: duckdb.DuckDBPyConnection, models: list[DeployedModel],
             args: argparse.Namespace) -> dict[str, object]:
    """The warehouse path on the real feature table (every as-of date), as a refresh reads it.

    The throughput rounds read a table holding only the latest snapshot. The dbt model reads
    ``fct_account_features``, every date of history, and a refresh scores two dates (the
    re-scored newest and the new one). Timed twice: with the rows as a full build lays them
    out (a date's rows spread over every row group: the window's output is in account order)
    and after the last two dates are rewritten the way an incremental refresh does (deleted,
    then inserted at the table's end). ``raw`` is onnxruntime on the compact latest snapshot,
    in the same round, and the same path on that compact snapshot; ratios of rows per second.
    """
    table = "marts.features_history"
    dates = [r[0] for r in con.execute(
        f"select distinct as_of_date from {table} order by 1 desc limit 2").fetchall()]
    n_read = con.execute(f"select count(*) from {table} where as_of_date in "
                         f"(date '{dates[0]}', date '{dates[-1]}')").fetchall()[0][0]
    total = con.execute(f"select count(*) from {table}").fetchall()[0][0]

    def rounds() -> dict[str, object]:
        raw, compact, wh = [], [], []
        for _ in range(args.repeats):
            s, n = _raw_path(con, "features", models, args.batch_size)
            raw.append(n / s)
            compact.append(n / _warehouse_path(con, "features", models, args.batch_size))
            wh.append(n_read / _warehouse_path(con, table, models, args.batch_size, dates=len(dates)))
        ratios = [round(w / r, 3) for r, w in zip(raw, wh, strict=True)]
        return {"warehouse_rows_per_s": round(statistics.median(wh)),
                "raw_onnxruntime_rows_per_s": round(statistics.median(raw)),
                "compact_warehouse_rows_per_s": round(statistics.median(compact)),
                "warehouse_over_raw": round(statistics.median(ratios), 3),
                "warehouse_over_raw_rounds": ratios,
                # the layout's own effect: the same path on the compact latest snapshot
                "warehouse_over_compact": round(statistics.median(
                    w / c for c, w in zip(compact, wh, strict=True)), 3)}

    out: dict[str, object] = {"table_rows": total, "dates_scored": [str(d) for d in dates],
                              "rows_scored": n_read, "full_build_layout": rounds()}
    log.info("history, full-build layout: %s", out["full_build_layout"])
    # what the incremental model's delete+insert does to the dates it computes
    listed = ", ".join(f"date '{d}'" for d in dates)
    con.execute(f"create temp table refreshed as select * from {table} where as_of_date in ({listed})")
    con.execute(f"delete from {table} where as_of_date in ({listed})")
    con.execute(f"insert into {table} select * from refreshed")
    con.execute("drop table refreshed")
    con.execute("checkpoint")
    out["refresh_layout"] = rounds()
    log.info("history, refresh layout: %s", out["refresh_layout"])
    return out


def _throughput(args: argparse.Namespace, tmp: Path, result: dict[str, object]) -> None:
    """Warehouse path vs raw onnxruntime (ensemble and logistic regression), and the dbt model."""
    src = duckdb.connect(str(args.warehouse), read_only=True)
    active = [m for m in deployed_models(src) if m.status == "active"]
    lr = _lr_model(src, active[0], tmp)
    src.close()
    # a copy of the warehouse (registry included) whose feature table is --rows rows
    scratch = tmp / "scratch.duckdb"
    shutil.copy(args.warehouse, scratch)
    con = duckdb.connect(str(scratch))
    # the real feature table, every date, as the build left it (the history probe reads it)
    con.execute("alter table marts.fct_account_features rename to features_history")
    result["rows"] = _replicate(con, "marts.features_history", args.rows, "marts.fct_account_features")
    con.execute("create or replace table features as select * from marts.fct_account_features")
    for name, models in (("ensemble", active), ("logistic_regression", [lr])):
        n = 0
        raw, raw_par, wh, nw, no_text = [], [], [], [], []
        # one round of every path per repeat, back to back, so a change in the host's speed
        # (this is a shared VM) moves both sides of a round's ratio alike
        for _ in range(args.repeats):
            s, n = _raw_path(con, "features", models, args.batch_size)
            raw.append(s)
            raw_par.append(_raw_path(con, "features", models, args.batch_size, parallel=True)[0])
            wh.append(_warehouse_path(con, "features", models, args.batch_size))
            nw.append(_no_write_path(con, "features", models, args.batch_size))
            if name == "ensemble":
                no_text.append(_warehouse_path(con, "features", models, args.batch_size,
                                               drop=TEXT_COLUMNS))
        raw_s, raw_par_s = statistics.median(raw), statistics.median(raw_par)
        wh_s, nw_s = statistics.median(wh), statistics.median(nw)
        rounds = [round(r / w, 3) for r, w in zip(raw, wh, strict=True)]
        figures: dict[str, object] = {"rows": n, "raw_onnxruntime_rows_per_s": round(n / raw_s),
                                       "raw_parallel_rows_per_s": round(n / raw_par_s),
                                       "warehouse_rows_per_s": round(n / wh_s),
                                       "warehouse_over_raw": round(statistics.median(rounds), 3),
                                       "warehouse_over_raw_rounds": rounds,
                                       "warehouse_over_raw_parallel": round(statistics.median(
                                           r / w for r, w in zip(raw_par, wh, strict=True)), 3),
                                       "no_write_rows_per_s": round(n / nw_s),
                                       "no_write_over_raw": round(statistics.median(
                                           r / w for r, w in zip(raw, nw, strict=True)), 3)}
        if no_text:
            figures["without_text_columns_over_raw"] = round(statistics.median(
                r / w for r, w in zip(raw, no_text, strict=True)), 3)
        result[name] = figures
        log.info("%s: %s", name, result[name])
    if args.history:
        result["history"] = _history(con, active, args)
    con.close()
    dbt_s = _dbt_model_seconds(args, scratch)
    if dbt_s is not None:
        ens = result["ensemble"]
        assert isinstance(ens, dict)
        ens["dbt_model_seconds"] = dbt_s
        ens["dbt_model_rows_per_s"] = round(ens["rows"] / dbt_s)
        ens["dbt_model_over_raw"] = round(ens["rows"] / dbt_s / ens["raw_onnxruntime_rows_per_s"], 3)
        # a scheduled refresh: the model is incremental, so it re-scores the latest date
        runs = min(3, args.repeats)
        refresh = [s for s in (_dbt_model_seconds(args, scratch, full_refresh=False)
                               for _ in range(runs)) if s is not None]
        if len(refresh) == runs:
            ens["dbt_refresh_seconds"] = refresh
            ens["dbt_refresh_over_raw"] = round(
                ens["rows"] / statistics.median(refresh) / ens["raw_onnxruntime_rows_per_s"], 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse", type=Path, required=True)
    ap.add_argument("--batch-size", type=int, default=131072)
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows to score (throughput)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--memory-rows", type=int, nargs="*", default=[1_000_000, 5_000_000])
    ap.add_argument("--duckdb-memory-limit", help="DuckDB memory_limit for the memory runs "
                    "(default: DuckDB's, 80%% of RAM); its buffer pool is what grows with the table")
    ap.add_argument("--memory-only", action="store_true", help="skip the throughput runs")
    ap.add_argument("--dbt-memory", action="store_true",
                    help="also measure the real dbt model's peak RSS at --memory-rows, under the "
                         "profile's duckdb and duckdb_capped targets")
    ap.add_argument("--history", action="store_true",
                    help="also time the warehouse path on the real feature table (every date), "
                         "laid out as a full build and as an incremental refresh leave it")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/scoring.json"))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--scratch", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--scan-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--dbt-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--target", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args)
        return
    if args.dbt_child:
        _dbt_child(args)
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    args.warehouse = args.warehouse.resolve()
    result: dict[str, object] = {"benchmark": "scoring", "batch_size": args.batch_size,
                                 "repeats": args.repeats, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        if not args.memory_only:
            _throughput(args, tmp, result)
        mem = {str(r): _memory_run(args, r, tmp) for r in args.memory_rows}
        result["memory"] = mem
        if len(args.memory_rows) == 2:
            a, b = (mem[str(r)]["peak_rss_mib"] for r in args.memory_rows)
            result["memory_ratio"] = round(b / a, 3)
            # what scoring holds above a bare scan of the same rows, at each size
            above = [mem[str(r)]["peak_rss_mib"] - mem[str(r)]["scan_only"]["peak_rss_mib"]
                     for r in args.memory_rows]
            result["scan_only_ratio"] = round(mem[str(args.memory_rows[1])]["scan_only"]["peak_rss_mib"]
                                              / mem[str(args.memory_rows[0])]["scan_only"]["peak_rss_mib"], 3)
            result["scoring_above_scan_mib"] = [round(x, 1) for x in above]
            result["scoring_above_scan_ratio"] = round(above[1] / above[0], 3)
        if args.dbt_memory:
            dbt_mem: dict[str, object] = {}
            for target in ("duckdb", "duckdb_capped"):
                runs = {str(r): _dbt_memory_run(args, r, tmp, target) for r in args.memory_rows}
                peaks = [runs[str(r)]["dbt_peak_rss_mib"] for r in args.memory_rows]
                dbt_mem[target] = {"runs": runs, "ratio": round(peaks[-1] / peaks[0], 3)}
                log.info("dbt memory, %s: %s", target, dbt_mem[target])
            result["dbt_memory"] = dbt_mem
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
