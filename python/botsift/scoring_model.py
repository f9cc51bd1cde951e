"""What the ``ml_bot_scores`` dbt Python model runs: registry lookup, checks, batch scoring.

The dbt model itself is a thin adapter (``models/marts/scoring/ml_bot_scores.py``); all logic
lives here so pytest reaches it.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from botsift.errors import BotsiftError
from botsift.project import table_exists
from botsift.scoring import (
    DECISIONS,
    SCORE_SCHEMA,
    DeployedModel,
    check_feature_columns,
    feature_union,
    score_reader,
)

__all__ = ["CODED_COLUMNS", "REGISTRY_TABLE", "coded_domains", "dates_to_score", "dbt_score_model",
           "deployed_models", "score_relation", "score_snapshot", "widen_coded_columns"]

log = logging.getLogger(__name__)

REGISTRY_TABLE = "registry.model_versions"

# The score table's low-cardinality text columns, stored as DuckDB ENUMs (one byte per row
# instead of a string): writing 1M score rows took 1.06 s with them as VARCHAR and 0.35 s as
# ENUMs (probe; README "Benchmarks"). Readers see text: an ENUM compares to string literals, and
# fct_bot_scores casts each to varchar for BI. Each domain is kept sorted, so an ENUM sorts
# as its text does.
CODED_COLUMNS = ("region", "model_version", "model_segment", "deployment_status", "decision")
DEPLOYMENT_STATUSES = ("active", "shadow")
_NO_MODEL = ("no model registered yet: ml_bot_scores stays empty until `botsift train` and "
             "`botsift models promote VERSION`")


def deployed_models(con: duckdb.DuckDBPyConnection, statuses: tuple[str, ...] = ("active", "shadow"),
                    ) -> list[DeployedModel]:
    """Return the deployed (active, and shadow if any) models from the warehouse registry.

    An empty list means no version was ever registered (a fresh warehouse): scoring then
    writes no rows, so a first ``dbt build`` passes before the first training.

    Raises
    ------
    BotsiftError
        If versions are registered but none is active (all retired or rolled back: a
        refresh must not silently stop scoring).
    """
    if not table_exists(con, "registry", "model_versions"):
        return []
    if not con.execute(f"select count(*) from {REGISTRY_TABLE}").fetchall()[0][0]:
        return []
    rows = con.execute(
        f"select model_version, segment, status, onnx_path, onnx_sha256, action_threshold, "
        f"review_threshold, card from {REGISTRY_TABLE} where status in "
        f"({', '.join('?' for _ in statuses)}) order by status, segment", list(statuses)).fetchall()
    if not any(r[2] == "active" for r in rows):
        raise BotsiftError(
            "no active model in registry.model_versions: promote one "
            "(botsift models promote VERSION) or build without scoring (dbt build --selector training)")
    by_status: dict[str, set[str]] = {}
    for version, _, status, *_ in rows:
        by_status.setdefault(status, set()).add(version)
    for status, versions in sorted(by_status.items()):
        if len(versions) > 1:
            # promote and rollback keep one version per status; two mean a hand edit, and
            # scoring both would let the last row decide which one the queue shows
            raise BotsiftError(
                f"registry.model_versions has {len(versions)} {status} versions "
                f"({', '.join(sorted(versions))}): one is allowed; fix the registry with "
                "`botsift models promote VERSION` or `botsift models rollback`")
    return [_deployed(*row) for row in rows]


def _deployed(version: str, segment: str, status: str, path: str | None, sha: str | None,
              action: float | None, review: float | None, card_json: Any) -> DeployedModel:
    """One registry row as a :class:`DeployedModel`, checked against its model card.

    The card is what training wrote and evaluated; the row's copies of its sha256 and
    thresholds are what scoring uses. A row edited by hand (a threshold changed, another
    version's file) would otherwise be scored silently under this version's name.
    """
    where = f"registry row {version}/{segment}"
    card: dict[str, Any] = json.loads(card_json) if isinstance(card_json, str) else dict(card_json or {})
    features = card.get("features")
    if not isinstance(features, list) or not features:
        raise BotsiftError(f"{where}: its model card has no feature list; re-register the version")
    if path is None or sha is None or action is None or review is None:
        empty = [n for n, v in (("onnx_path", path), ("onnx_sha256", sha),
                                ("action_threshold", action), ("review_threshold", review)) if v is None]
        raise BotsiftError(f"{where}: {', '.join(empty)} is null; re-register the version")
    thresholds = card.get("thresholds") or {}
    edited = [(name, value, want) for name, value, want in (
        ("onnx_sha256", sha, card.get("onnx_sha256", sha)),
        ("action_threshold", action, thresholds.get("action", action)),
        ("review_threshold", review, thresholds.get("review", review)),
        ("model_version", version, card.get("model_version", version)),
    ) if want != value]
    if edited:
        name, value, want = edited[0]
        raise BotsiftError(
            f"{where}: {name} {value} differs from its model card's {want}: the registry was "
            "edited by hand; restore the card's value, or train and register a new version")
    return DeployedModel(
        model_version=version, segment=segment, status=status, onnx_path=Path(path),
        onnx_sha256=sha, features=[str(f) for f in features],
        feature_types=dict(card.get("feature_types") or {}),
        action_threshold=float(action), review_threshold=float(review),
        explain=card.get("explain"))


def dates_to_score(con: duckdb.DuckDBPyConnection, features: duckdb.DuckDBPyRelation, this: str | None,
                   models: list[DeployedModel], backfill_days: int) -> dict[str, list[str]]:
    """Pick the as-of dates each deployed version scores in this run.

    A first build (or a score table still empty) scores the last ``backfill_days`` snapshots
    with every version, so monitoring has a history. After that every version scores the
    snapshots newer than the newest the table holds, however many refreshes were skipped, and
    re-scores that newest one (``fct_account_features`` computes its previous latest date again
    on each refresh: that day may have been loaded in part). A shadow version that has not
    scored up to there (a new shadow) also scores the last ``backfill_days`` dates from the
    last one it scored (all of them when it scored none), to be compared with the active one.

    An active version never backfills: the version in force on a past date is the active one
    that scored it when it was current (``active_versions_in_force``), so a promotion, a
    rollback or a new shadow must not re-score history as active.

    Returns
    -------
    dict
        Model version to its sorted dates (ISO strings); a version with nothing to score maps
        to an empty list.
    """
    all_dates = sorted(r[0] for r in features.project("as_of_date").distinct().fetchall())
    versions = {m.model_version: m.status for m in models}
    if not all_dates:
        return {v: [] for v in versions}
    latest = all_dates[-1]
    backfill = all_dates[-max(1, backfill_days):]
    newest = None if this is None else con.execute(f"select max(as_of_date) from {this}").fetchall()[0][0]
    if newest is None:
        return {v: [str(d) for d in backfill] for v in versions}
    # bounded by the table, not by backfill_days: dates a skipped refresh left (or a backfill
    # window shorter than the gap) would otherwise never be scored
    current = {latest, *(d for d in all_dates if d >= newest)}
    out = {}
    for version, status in versions.items():
        wanted = set(current)
        if status != "active":
            done = con.execute(f"select max(as_of_date) from {this} where model_version = ?",
                               [version]).fetchall()[0][0]
            wanted.update(d for d in backfill if done is None or d >= done)
        out[version] = [str(d) for d in sorted(wanted)]
    return out


def _plan(con: duckdb.DuckDBPyConnection, features: duckdb.DuckDBPyRelation, this: str | None,
          backfill_days: int) -> tuple[list[DeployedModel], dict[str, list[str]], str]:
    """The deployed models (checked against the feature columns), each version's dates to
    score, and the columns to read (``account_id``, ``as_of_date``, ``region`` and every
    model's features)."""
    models = deployed_models(con)
    if not models:
        if this is not None and con.execute(f"select count(*) from (select 1 from {this} limit 1)"
                                            ).fetchall()[0][0]:
            # no registry on a warehouse that has scored: it was dropped or emptied, and
            # passing with a warning would stop scoring on every refresh unnoticed
            raise BotsiftError(
                f"registry.model_versions is missing or empty, but {this} holds scores: the "
                "registry was dropped or emptied; restore it from a backup, or train and "
                "promote a version (`botsift train`, `botsift models promote VERSION`)")
        return [], {}, ""
    columns = {c: str(t) for c, t in zip(features.columns, features.types, strict=True)}
    for m in models:
        check_feature_columns(columns, m, "fct_account_features")
    dates = dates_to_score(con, features, this, models, backfill_days)
    cols = ", ".join(f'"{c}"' for c in ["account_id", "as_of_date", "region", *feature_union(models)])
    log.info("scoring %s", "; ".join(
        f"{m.model_version}/{m.segment}/{m.status}: {len(dates[m.model_version])} date(s)" for m in models))
    return models, dates, cols


def _union(dates: dict[str, list[str]]) -> list[str]:
    return sorted({d for ds in dates.values() for d in ds})


def _delete_rescored(con: duckdb.DuckDBPyConnection, this: str, dates: dict[str, list[str]]) -> None:
    """Delete each version's rows of the dates it re-scores, in the model's transaction.

    Whole (version, date) slices, not matching keys: an account that left a recomputed
    snapshot must lose its old score too, or the table would keep a row no feature row backs.
    """
    for version, ds in dates.items():
        if ds:
            con.execute(f"delete from {this} where model_version = ? and {_date_filter(ds)}", [version])


def _naive_utc(at: datetime | None) -> datetime:
    """``at`` (now if None) as a naive UTC timestamp, the score table's ``scored_at``."""
    if at is None:
        return datetime.now(UTC).replace(tzinfo=None)
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo is not None else at


def _date_filter(dates: list[str]) -> str:
    """A filter on these as-of dates that DuckDB pushes into its scan.

    A bare ``in`` list of two or more dates is not pushed down (DuckDB 1.5 keeps it as an
    optional filter above the scan): the scan then hands every row of the feature table to
    a filter, every column fetched. The ``between`` on the list's ends is pushed down, so only
    the matching rows' columns are read. At 1M accounts x 30 days, reading two dates: 0.40-0.45 s
    against 1.8-1.9 s (/tmp probe); the whole scoring path on them 4.36 against 5.93 s.
    """
    if not dates:
        return "as_of_date in (null)"
    if len(dates) == 1:
        return f"as_of_date = date '{dates[0]}'"
    listed = ", ".join(f"date '{d}'" for d in dates)
    return f"as_of_date between date '{min(dates)}' and date '{max(dates)}' and as_of_date in ({listed})"


def _scores(reader: pa.RecordBatchReader, models: list[DeployedModel], scored_at: datetime,
            workers: int | None, dates: dict[str, list[str]]) -> pa.RecordBatchReader:
    fail_after = int(os.environ.get("BOTSIFT_FAIL_AFTER_BATCHES", "0") or 0)
    # routes, loads and verifies every model now: a bad file fails before any row is written
    out = score_reader(reader, models, scored_at, workers=workers, dates=dates)
    if fail_after:
        out = _failing(out, fail_after)
    return out


def score_snapshot(con: duckdb.DuckDBPyConnection, features: duckdb.DuckDBPyRelation, *,
                   this: str | None = None, batch_size: int = 65_536,
                   backfill_days: int = 1, scored_at: datetime | None = None,
                   workers: int | None = None) -> pa.RecordBatchReader:
    """Score feature snapshots with every deployed model, lazily, batch by batch.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The warehouse connection (registry lookups; the features are read through
        ``features``' own connection).
    features : duckdb.DuckDBPyRelation
        The feature relation (``fct_account_features``).
    this : str, optional
        The existing score table on an incremental run.
    workers : int, optional
        Batches scored at a time (None or 0: one per core; see :func:`botsift.scoring.score_batches`).

    Returns
    -------
    pyarrow.RecordBatchReader
        Score rows (:data:`botsift.scoring.SCORE_SCHEMA`, text columns as strings), produced
        as the reader is consumed. The dbt model runs :func:`score_relation` instead.

    Raises
    ------
    BotsiftError
        No active model, a model file that fails its sha256, or a feature column that is
        missing or has another type than at training.
    """
    models, dates, cols = _plan(con, features, this, backfill_days)
    if not models:
        log.warning(_NO_MODEL)
        return pa.RecordBatchReader.from_batches(SCORE_SCHEMA, iter(()))
    reader = features.filter(_date_filter(_union(dates))).project(cols).to_arrow_reader(batch_size)
    return _scores(reader, models, _naive_utc(scored_at), workers, dates)


def coded_domains(features: duckdb.DuckDBPyRelation, dates: list[str],
                  models: list[DeployedModel]) -> dict[str, list[str]]:
    """The values each of :data:`CODED_COLUMNS` can take in this run's scores, sorted."""
    regions = features.filter(_date_filter(dates)).filter("region is not null").project(
        "cast(region as varchar) as region").distinct().fetchall()
    return {
        "region": sorted(r[0] for r in regions),
        "model_version": sorted({m.model_version for m in models}),
        "model_segment": sorted({m.segment for m in models}),
        "deployment_status": sorted(DEPLOYMENT_STATUSES),
        "decision": sorted(DECISIONS),
    }


def _enum(values: list[str]) -> str:
    return "ENUM(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


def widen_coded_columns(con: duckdb.DuckDBPyConnection, this: str,
                        domains: dict[str, list[str]]) -> dict[str, list[str]]:
    """Make each coded column of the score table ``this`` an ENUM holding its values and ``domains``'.

    A column whose ENUM lacks a value of this run (a newly deployed version, a new region) is
    altered to the sorted union; a VARCHAR column (a table written before the columns were
    coded) is converted once. Returns each column's domain after the change: this run's
    scores are cast to exactly these types, so the incremental insert copies codes.
    """
    table = con.sql(f"select * from {this}")
    types = dict(zip(table.columns, (str(t) for t in table.types), strict=True))
    final: dict[str, list[str]] = {}
    for col, wanted in domains.items():
        typ = types.get(col)
        if typ is None:
            raise BotsiftError(f"score table {this} has no column {col}: rebuild it with "
                               "`dbt build --select ml_bot_scores --full-refresh`")
        if typ.startswith("ENUM("):
            have = con.execute(f"select enum_range(cast(null as {typ}))").fetchall()[0][0]
        else:
            have = [r[0] for r in con.execute(
                f'select distinct cast("{col}" as varchar) from {this} where "{col}" is not null'
            ).fetchall()]
        union = sorted(set(have) | set(wanted))
        final[col] = union
        if union and (union != list(have) or not typ.startswith("ENUM(")):
            log.info("score table column %s: %s -> %s", col, typ if len(typ) < 60 else "ENUM(...)",
                     f"{len(union)} values")
            con.execute(f'alter table {this} alter column "{col}" type {_enum(union)}')
    return final


def _check_columns(con: duckdb.DuckDBPyConnection, this: str) -> None:
    """Fail in one line when the score table lacks a column this code writes."""
    have = set(con.sql(f"select * from {this}").columns)
    missing = [name for name in SCORE_SCHEMA.names if name not in have]
    if missing:
        raise BotsiftError(f"score table {this} has no column {', '.join(missing)} (written by "
                           "an older botsift): rebuild it with "
                           "`dbt build --select ml_bot_scores --full-refresh`")


def score_relation(con: duckdb.DuckDBPyConnection, features: duckdb.DuckDBPyRelation, *,
                   this: str | None = None, batch_size: int = 65_536, backfill_days: int = 1,
                   scored_at: datetime | None = None,
                   workers: int | None = None) -> duckdb.DuckDBPyRelation:
    """What ``ml_bot_scores`` returns: :func:`score_snapshot`'s rows, coded columns as ENUMs.

    On a first build (``this`` None) the rows are the returned relation, on ``con``, and dbt
    creates the table from it. On an incremental run the score table's ENUMs are first
    widened to this run's values (:func:`widen_coded_columns`), each version's rows of the
    dates it re-scores are deleted (:func:`_delete_rescored`), and the new rows are inserted
    into ``this`` here, all in the model's transaction; the relation returned is then empty
    (the table's columns, no rows), so dbt's own append adds nothing. The feature rows stream
    through a cursor of their own, so reading and writing do not share a connection.
    """
    models, dates, cols = _plan(con, features, this, backfill_days)
    if not models:
        log.warning(_NO_MODEL)
        return con.from_arrow(pa.RecordBatchReader.from_batches(SCORE_SCHEMA, iter(())))
    read = con.cursor()
    source = read.sql(features.sql_query())
    domains = coded_domains(source, _union(dates), models)
    if this is not None:
        _check_columns(con, this)
        domains = widen_coded_columns(con, this, domains)
        _delete_rescored(con, this, dates)
    reader = source.filter(_date_filter(_union(dates))).project(cols).to_arrow_reader(batch_size)
    scored_at = _naive_utc(scored_at)
    scores = _scores(reader, models, scored_at, workers, dates)

    def column(name: str) -> str:
        if name in CODED_COLUMNS:
            return f'cast("{name}" as {_enum(domains[name]) if domains.get(name) else "varchar"}) as "{name}"'
        if name == "scored_at":  # one value per run: a constant, not a column to convert
            return f"cast('{scored_at.isoformat(sep=' ')}' as timestamp) as scored_at"
        return f'"{name}"'

    select = ", ".join(column(name) for name in SCORE_SCHEMA.names)
    if this is None:
        return con.from_arrow(_holding(scores, read)).project(select)
    # Written here, by column name: dbt-duckdb writes an incremental Python model's rows into
    # a temporary table and then copies them into the target, so every score was written twice
    # (re-scoring 1M rows through `dbt run`: 2.49 s against 2.71 s, median of 5 alternated runs).
    stream = f"botsift_scores_{os.getpid()}_{id(scores)}"
    con.register(stream, _holding(scores, read))
    try:
        names = ", ".join(f'"{name}"' for name in SCORE_SCHEMA.names)
        con.execute(f"insert into {this} ({names}) select {select} from {stream}")
    finally:
        con.unregister(stream)
    return con.sql(f"select * from {this} limit 0")


def _holding(reader: pa.RecordBatchReader, cursor: duckdb.DuckDBPyConnection) -> pa.RecordBatchReader:
    """``reader``, keeping the cursor its rows come from open until the last batch."""
    def gen():  # type: ignore[no-untyped-def]
        try:
            yield from reader
        finally:
            cursor.close()
    return pa.RecordBatchReader.from_batches(reader.schema, gen())


def dbt_score_model(con: duckdb.DuckDBPyConnection,
                    features: Callable[[], duckdb.DuckDBPyRelation], *,
                    this: str | None, batch_size: int | str | None,
                    backfill_days: int | str | None,
                    workers: int | str | None = None) -> duckdb.DuckDBPyRelation:
    """Entry point of the ``ml_bot_scores`` dbt model: :func:`score_relation`.

    ``features`` returns the feature relation (the model's ``dbt.ref``, called here so a
    feature table that was never built is reported like every other cause). A
    :class:`BotsiftError` is re-raised with tracebacks switched off, so dbt reports it as
    one line naming the cause (dbt formats the model's exception with ``traceback``, which
    honours ``sys.tracebacklimit``; the build is failing at that point anyway).
    """
    try:
        try:
            relation = features()
        except duckdb.CatalogException:
            raise BotsiftError(
                "the feature table fct_account_features is not built: run `dbt build --selector "
                "features` (or a plain `dbt build`) before scoring") from None
        return score_relation(con, relation, this=this, batch_size=int(batch_size or 65_536),
                              backfill_days=int(backfill_days or 1),
                              workers=int(workers or 0))
    except BotsiftError as exc:
        sys.tracebacklimit = 0
        raise BotsiftError(str(exc)) from None


def _failing(reader: pa.RecordBatchReader, after: int) -> pa.RecordBatchReader:
    """Fault injection for the interrupted-refresh test: die after ``after`` batches."""
    def gen():  # type: ignore[no-untyped-def]
        for i, b in enumerate(reader):
            if i >= after:
                log.error("BOTSIFT_FAIL_AFTER_BATCHES=%d: simulating a crash mid-refresh", after)
                time.sleep(0.1)
                os._exit(137)
            yield b
    return pa.RecordBatchReader.from_batches(reader.schema, gen())
