"""Monitoring adapters called by dbt Python models (thin models, logic here)."""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from botsift.errors import BotsiftError

__all__ = ["VALIDATION_SCHEMA", "active_model_version", "feature_validation",
           "dbt_feature_validation"]

log = logging.getLogger(__name__)

VALIDATION_SCHEMA = pa.schema([
    ("as_of_date", pa.date32()), ("model_version", pa.string()),
    ("expectation_type", pa.string()), ("feature", pa.string()),
    ("observed_value", pa.float64()), ("observed_json", pa.string()),
    ("unexpected_percent", pa.float64()), ("kwargs_json", pa.string()),
    ("success", pa.bool_()), ("validated_at", pa.timestamp("us")),
])
"""Columns of ``mon_feature_validation``: one row per as-of date and expectation."""


def active_model_version(model_versions: duckdb.DuckDBPyRelation,
                         segment: str = "global") -> str | None:
    """Return the active model version of ``segment``, or None when none is active."""
    rows = model_versions.filter(
        f"status = 'active' and segment = '{segment}'").project("model_version").fetchall()
    if len(rows) > 1:
        raise BotsiftError(f"{len(rows)} active model versions for segment {segment}: the "
                           "registry allows one; fix it with `botsift models promote/rollback`")
    return rows[0][0] if rows else None


def _as_bool(value: Any, default: bool = True) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _as_count(value: Any, default: int, name: str) -> int:
    """A non-negative whole number from a dbt config value (text from ``env_var``)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    try:
        n = int(str(value).strip())
    except ValueError:
        n = -1
    if n < 0:
        raise BotsiftError(f"{name} must be a whole number >= 0 (0 keeps every run), "
                           f"not {value!r}")
    return n


def feature_validation(features: duckdb.DuckDBPyRelation,
                       model_versions: duckdb.DuckDBPyRelation,
                       feature_reference: duckdb.DuckDBPyRelation, *,
                       suite_dir: str | Path | None, build_docs: Any = True,
                       docs_keep: Any = None,
                       con: duckdb.DuckDBPyConnection | None = None,
                       this: str | None = None) -> pa.Table:
    """Validate the snapshots after the active model's reference window against its GX suite.

    On an incremental run (``this``, the mart, on ``con``, in the model's transaction) only
    the last date already validated for the active version (its features were computed again)
    and the newer ones are validated; rows of any other version are deleted first, so the
    mart holds the active version's validation, as a full rebuild would.

    Parameters
    ----------
    features : duckdb.DuckDBPyRelation
        ``fct_account_features``.
    model_versions, feature_reference : duckdb.DuckDBPyRelation
        ``registry.model_versions`` and ``registry.feature_reference``.
    suite_dir : str or pathlib.Path
        The GX project root; relative paths are taken from the dbt project root.
    build_docs : bool or str
        Build GX Data Docs (for the latest date).
    docs_keep : int or str, optional
        Validation results (and Data Docs pages) the suite keeps: the newest; 0 keeps all;
        None: :data:`botsift.expectations.DOCS_KEEP`.

    Returns
    -------
    pyarrow.Table
        One row per as-of date and expectation (:data:`VALIDATION_SCHEMA`); empty when no model
        is active yet, or the active model has no reference.
    """
    from botsift.expectations import DOCS_KEEP, validate_snapshots
    from botsift.project import project_dir

    keep = _as_count(docs_keep, DOCS_KEEP, "data_docs_keep")

    empty = VALIDATION_SCHEMA.empty_table()
    version = active_model_version(model_versions)
    done = None
    if this is not None and con is not None:
        # a replaced version's rows go (all rows while none is active)
        con.execute(f"delete from {this} where model_version is distinct from ?", [version])
        done = con.execute(f"select max(as_of_date) from {this}").fetchall()[0][0]
    if version is None:
        log.warning("mon_feature_validation: no active global model in the registry yet; "
                    "nothing to validate (train and promote a model)")
        return empty
    ref = feature_reference.filter(
        f"model_version = '{version}' and not is_score").project(
        "feature, reference_end_date").fetchall()
    if not ref:
        log.warning("mon_feature_validation: active model %s has no drift reference; run "
                    "botsift.drift.build_reference for it", version)
        return empty
    root = Path(suite_dir or "expectations")
    if not root.is_absolute():
        root = project_dir() / root
    cols = [r[0] for r in ref if r[0] in features.columns]
    end = max((r[1] for r in ref if r[1] is not None), default=None)
    rel = features if end is None else features.filter(f"as_of_date > DATE '{end}'")
    if done is not None:
        # every refresh used to validate every date since training again (about 3.5 s a date
        # at 10k accounts, and all of them read into pandas at once)
        rel = rel.filter(f"as_of_date >= DATE '{done}'")
    df = rel.project(", ".join(["as_of_date", *[f'"{c}"' for c in cols]])).df()
    if df.empty:
        log.info("mon_feature_validation: no snapshot after %s to validate", end)
        return empty
    out = validate_snapshots(df, version, root, build_docs=_as_bool(build_docs), keep_docs=keep)
    n_failed = int((~out["success"]).sum())
    log.info("mon_feature_validation: %s, %d dates, %d expectation results, %d failed",
             version, out["as_of_date"].nunique(), len(out), n_failed)
    return pa.Table.from_pandas(out[VALIDATION_SCHEMA.names], schema=VALIDATION_SCHEMA,
                                preserve_index=False)


def dbt_feature_validation(features: duckdb.DuckDBPyRelation,
                           model_versions: duckdb.DuckDBPyRelation,
                           feature_reference: duckdb.DuckDBPyRelation, *,
                           suite_dir: str | Path | None, build_docs: Any = True,
                           docs_keep: Any = None,
                           con: duckdb.DuckDBPyConnection | None = None,
                           this: str | None = None) -> pa.Table:
    """Entry point of the ``mon_feature_validation`` dbt model: :func:`feature_validation`.

    A :class:`BotsiftError` (no suite for the active version, two active versions) is
    re-raised with tracebacks switched off, so dbt reports it as one line naming the cause,
    as ``ml_bot_scores`` does (dbt formats the model's exception with ``traceback``, which
    honours ``sys.tracebacklimit``; the build is failing at that point anyway).
    """
    try:
        return feature_validation(features, model_versions, feature_reference,
                                  suite_dir=suite_dir, build_docs=build_docs,
                                  docs_keep=docs_keep, con=con, this=this)
    except BotsiftError as exc:
        sys.tracebacklimit = 0
        raise BotsiftError(str(exc)) from None
