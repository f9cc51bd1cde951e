"""Great Expectations suites tied to a model version, and validating snapshots against them.

One suite per model version, ``features__<model_version>``, in the GX file project under
``expectations/`` (``expectations/gx/expectations/<suite>.json``). Per feature (and per score)
it holds: KL divergence against the reference histogram, quantile ranges, mean and stdev
bounds, the null share and the reference min/max range. Every bound is the reference window's
own daily range widened by a tolerance (see :class:`botsift.drift.DriftSettings`), so that a
slow trend inside the reference (trailing windows filling up) does not read as drift.

Great Expectations is imported lazily (about 3 s); only the pandas route is used (DuckDB is no
GX SQL dialect).
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from botsift.errors import BotsiftError, first_line

if TYPE_CHECKING:
    from botsift.drift import DriftSettings, FeatureReference

__all__ = ["RESULT_COLUMNS", "suite_name", "build_suite", "validate_snapshots", "data_docs_dir"]

log = logging.getLogger(__name__)

RESULT_COLUMNS = {
    "as_of_date": "date", "model_version": "str", "expectation_type": "str", "feature": "str",
    "observed_value": "float64", "observed_json": "str", "unexpected_percent": "float64",
    "kwargs_json": "str", "success": "bool", "validated_at": "datetime64[us]",
}
"""Columns (and pandas dtypes) of one validation result row."""

DOCS_KEEP = 30
"""Validation results a suite keeps in the GX project (and the Data Docs): the newest runs."""


def suite_name(model_version: str) -> str:
    """Return the GX suite name of a model version."""
    return f"features__{model_version}"


def _shield_spark_connect_probe() -> None:
    """Keep Great Expectations' pyspark probe from ending the process.

    GX imports ``pyspark.sql.connect`` when pyspark is installed. pyspark 4 then checks Spark
    Connect's dependencies and, when ``__main__`` has neither ``__spec__`` nor ``__file__``
    (``python -c "...cli()"``, a common way to launch dbt) takes the run for its own doctests
    and calls ``sys.exit(0)`` if grpc is missing. GX only catches ImportError, so the
    SystemExit killed the dbt thread running ``mon_feature_validation`` ("Unhandled error
    while executing 0") and hung the build. Without grpc Spark Connect cannot work anyway, so
    mark it absent: GX then sees an ImportError and carries on.
    """
    import importlib.util
    import sys

    if "pyspark.sql.connect" in sys.modules or "great_expectations" in sys.modules:
        return
    if importlib.util.find_spec("pyspark") is not None and importlib.util.find_spec("grpc") is None:
        sys.modules["pyspark.sql.connect"] = None  # type: ignore[assignment]


# Before any GX import in the process: every GX import in botsift goes through this module.
_shield_spark_connect_probe()


def _context(root: Path, *, create: bool = True):  # type: ignore[no-untyped-def]
    """The file-mode GX project at ``root``; only writing a suite creates it (validation on a
    mistyped path must not leave a GX project skeleton there)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    if create:
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BotsiftError(f"cannot create the Great Expectations folder {root}: "
                               f"{exc.strerror or exc} (check BOTSIFT_EXPECTATIONS_DIR)") from None
    try:
        ctx = gx.get_context(mode="file", project_root_dir=str(root))
    except Exception as exc:  # noqa: BLE001 - GX raises many types for a broken project file
        raise BotsiftError(
            f"the Great Expectations project {root / 'gx' / 'great_expectations.yml'} cannot be "
            f"read ({type(exc).__name__}: {first_line(exc)}): restore the file (it is in git)"
        ) from None
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    return ctx


def data_docs_dir(root: Path) -> Path:
    """Return the folder the GX Data Docs site is built into (open its index.html)."""
    return Path(root) / "gx" / "uncommitted" / "data_docs" / "local_site"


def _num(x: float) -> float:
    return float(x) if math.isfinite(x) else 0.0


def _bounds(values: Sequence[float], pooled: float, rel: float, floor: float = 0.0
            ) -> tuple[float, float]:
    """The reference days' range widened by max(rel * |pooled|, their spread, floor)."""
    lo, hi = float(min(values)), float(max(values))
    tol = max(rel * abs(pooled), hi - lo, floor)
    return lo - tol, hi + tol


def _expectations(r: FeatureReference, s: DriftSettings) -> list[Any]:
    import great_expectations.expectations as gxe

    meta = {"feature": r.feature}
    regular = r.shares[1:-2]
    weights = regular / regular.sum() * (1 - 2 * s.epsilon) if regular.sum() > 0 else regular
    kl_threshold = max(s.kl_threshold, s.noise_multiplier * r.kl_noise)
    mean_lo, mean_hi = _bounds(r.daily_means, r.mean, s.mean_rel_tolerance,
                               4 * r.stdev / math.sqrt(max(r.min_daily_rows, 1)))
    sd_lo, sd_hi = _bounds(r.daily_stdevs, r.stdev, s.stdev_rel_tolerance)
    ranges = []
    # Integer features move their quantiles in whole steps: allow one step.
    resolution = 1.0 if r.is_integral else 0.0
    for p in s.summary_quantiles:
        days = r.daily_quantiles[p]
        spread = max(max(days) - min(days), resolution)
        lo = min(min(days), r.quantile_ranges[p][0]) - spread
        hi = max(max(days), r.quantile_ranges[p][1]) + spread
        ranges.append([lo, hi])
    out = [
        gxe.ExpectColumnKLDivergenceToBeLessThan(
            column=r.feature, threshold=kl_threshold, meta=meta,
            partition_object={"bins": [float(e) for e in r.edges],
                              "weights": [float(w) for w in weights],
                              "tail_weights": [s.epsilon, s.epsilon]}),
        gxe.ExpectColumnQuantileValuesToBeBetween(
            column=r.feature, meta=meta, quantile_ranges={
                "quantiles": list(s.summary_quantiles), "value_ranges": ranges}),
        gxe.ExpectColumnMeanToBeBetween(column=r.feature, min_value=mean_lo,
                                        max_value=mean_hi, meta=meta),
        gxe.ExpectColumnStdevToBeBetween(column=r.feature, min_value=max(sd_lo, 0.0),
                                         max_value=sd_hi, meta=meta),
        gxe.ExpectColumnValuesToNotBeNull(
            column=r.feature, meta=meta,
            mostly=max(0.0, 1.0 - r.max_daily_null_share - s.null_share_tolerance)),
        gxe.ExpectColumnValuesToBeBetween(column=r.feature, min_value=r.min, max_value=r.max,
                                          mostly=r.range_mostly, meta=meta),
    ]
    return out


def build_suite(root: Path, model_version: str, refs: Sequence[FeatureReference],
                settings: DriftSettings, *, reference_window: tuple[date | None, date | None]
                ) -> tuple[str, Path]:
    """Write (or replace) the suite of a model version into the GX project at ``root``.

    Returns
    -------
    tuple
        The suite name and the path of its JSON file.
    """
    import great_expectations as gx

    ctx = _context(Path(root))
    name = suite_name(model_version)
    suite = gx.ExpectationSuite(name=name, meta={
        "model_version": model_version, "settings": settings.to_dict(),
        "reference_start_date": str(reference_window[0]),
        "reference_end_date": str(reference_window[1]),
        "features": [r.feature for r in refs]})
    for r in refs:
        for exp in _expectations(r, settings):
            suite.add_expectation(exp)
    with _quiet_gx():
        with contextlib.suppress(Exception):  # absent suite: nothing to replace
            ctx.suites.delete(name)
        ctx.suites.add(suite)
    path = Path(root) / "gx" / "expectations" / f"{name}.json"
    return name, path


class _quiet_gx:
    """Silence GX's chatty loggers inside a block."""

    def __enter__(self) -> None:
        self._levels = {}
        for n in ("great_expectations",):
            lg = logging.getLogger(n)
            self._levels[n] = lg.level
            lg.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        for n, lvl in self._levels.items():
            logging.getLogger(n).setLevel(lvl)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _error_message(exception_info: Any) -> str | None:
    """The first exception message of a GX result, or None when its metrics all computed.

    GX records a metric that raised (for example a mean of a text column) as a
    failed expectation with an empty result; the message is the only trace of why.
    """
    # one dict per failed metric, or (no metric failed) one flat dict
    flat = not isinstance(exception_info, dict) or "raised_exception" in exception_info
    infos = [exception_info] if flat else list(exception_info.values())
    for info in infos:
        if isinstance(info, dict) and (info.get("raised_exception") or
                                       info.get("exception_message")):
            return str(info.get("exception_message") or "GX raised an exception").strip()
    return None


def _fingerprint(suite: Any) -> str:
    """A digest of a suite's expectations and meta (GX's own comparison is quadratic)."""
    import hashlib

    body = [[e.expectation_type, _jsonable(e.configuration.kwargs), _jsonable(e.meta or {})]
            for e in suite.expectations]
    meta = {k: v for k, v in (suite.meta or {}).items() if k != "botsift_fingerprint"}
    text = json.dumps([suite.name, body, _jsonable(meta)], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _stored_suite(ctx: Any, suite: Any) -> Any:
    """``suite`` as stored in the GX project, written only when it is absent or differs.

    GX's ``suites.add_or_update`` compares every expectation with every stored one (about
    15 s for a 264-expectation suite, three times per run through the validation definition
    and the checkpoint); a digest in the suite's meta makes an unchanged suite a file read.
    """
    fp = _fingerprint(suite)
    suite.meta["botsift_fingerprint"] = fp
    with _quiet_gx():
        try:
            stored = ctx.suites.get(suite.name)
        except Exception:  # noqa: BLE001 - absent (GX raises its own not-found types)
            stored = None
        if stored is not None and (stored.meta or {}).get("botsift_fingerprint") == fp:
            return stored
        if stored is not None:
            ctx.suites.delete(suite.name)
        return ctx.suites.add(suite)


def _publish(ctx: Any, root: Path, result: Any, suite: Any, batch_id: str, day: Any,
             keep: int) -> None:
    """Store one validation result and render it into the Data Docs; keep the last ``keep``.

    What a checkpoint with ``UpdateDataDocsAction`` does, less its cost: the suite's page is
    rendered only when missing (the suite of a version does not change; rendering it took
    about 4 s a run), and stored results beyond the newest ``keep`` of the suite are removed
    with their pages (each run stored about 250 kB of JSON and 1 MB of HTML, for ever).
    """
    import datetime as dt

    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    suite_id = ExpectationSuiteIdentifier(name=suite.name)
    run_id = RunIdentifier(run_name=f"as_of_{pd.Timestamp(day).date()}",
                           run_time=dt.datetime.now(dt.UTC))
    result.meta["run_id"] = run_id
    result.meta["validation_time"] = run_id.run_time
    key = ValidationResultIdentifier(expectation_suite_identifier=suite_id, run_id=run_id,
                                     batch_identifier=batch_id)
    store = ctx.validation_results_store
    store.set(key, result)
    site = data_docs_dir(root)
    stale = sorted((k for k in store.list_keys()
                    if k.expectation_suite_identifier.name == suite.name),
                   key=lambda k: k.run_id.run_time)[:-keep] if keep > 0 else []
    for old in stale:
        store.remove_key(old)
        rel = Path(*old.to_tuple())
        for path in (site / "validations" / rel.with_suffix(".html"),
                     root / "gx" / "uncommitted" / "validations" / rel.with_suffix(".json")):
            path.unlink(missing_ok=True)
            # the run's folders go too, once empty (not the suite's own)
            for folder in list(path.parents)[:len(rel.parts) - 2]:
                with contextlib.suppress(OSError):  # not empty: another run is in it
                    folder.rmdir()
    ids: list[ValidationResultIdentifier | ExpectationSuiteIdentifier] = [key]
    if not (site / "expectations" / f"{suite.name}.html").is_file():
        ids.append(suite_id)
    ctx.build_data_docs(resource_identifiers=ids)


def empty_results() -> pd.DataFrame:
    """An empty result frame with :data:`RESULT_COLUMNS`."""
    return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in RESULT_COLUMNS.items()})


def validate_snapshots(snapshots: pd.DataFrame, model_version: str, root: Path, *,
                       date_column: str = "as_of_date", build_docs: bool = True,
                       keep_docs: int = DOCS_KEEP) -> pd.DataFrame:
    """Validate each as-of date of ``snapshots`` against the suite of ``model_version``.

    Expectations on columns the frame lacks (for example the score, before scoring runs) are
    left out and logged. With ``build_docs``, the latest date's validation is stored in the GX
    project and rendered into its Data Docs, and only the newest ``keep_docs`` stored
    validations of the suite are kept (0 keeps all); earlier dates are validated, not stored.

    Parameters
    ----------
    snapshots : pandas.DataFrame
        Feature rows with ``date_column``.
    model_version : str
        The model whose suite applies.
    root : pathlib.Path
        The GX project root holding the suite.

    Returns
    -------
    pandas.DataFrame
        One row per date and expectation, columns :data:`RESULT_COLUMNS`.

    Raises
    ------
    BotsiftError
        If the suite does not exist.
    """
    import great_expectations as gx

    root = Path(root)
    name = suite_name(model_version)
    if not (root / "gx").is_dir():
        raise BotsiftError(f"no GX suite {name} under {root}, which holds no Great Expectations "
                           "project: set BOTSIFT_EXPECTATIONS_DIR to the folder training wrote the "
                           f"suites into (default expectations/), or build the reference of "
                           f"{model_version} (botsift.drift.build_reference) first")
    ctx = _context(root, create=False)
    with _quiet_gx():
        try:
            suite = ctx.suites.get(name)
        except Exception as exc:  # noqa: BLE001 - GX raises its own not-found types
            stored = root / "gx" / "expectations" / f"{name}.json"
            if stored.is_file():  # there, but GX cannot read it: say so, not "not found"
                raise BotsiftError(
                    f"the GX suite {stored} cannot be read ({type(exc).__name__}: "
                    f"{first_line(exc)}): restore it, or retrain to write a new version's "
                    "suite") from None
            raise BotsiftError(f"no GX suite {name} under {root}: build the reference of "
                               f"{model_version} (botsift.drift.build_reference) first") from exc
    cols = set(snapshots.columns)
    skipped = sorted({e.column for e in suite.expectations if e.column not in cols})
    if skipped:
        log.info("suite %s: no column(s) %s in the snapshot; their expectations are skipped",
                 name, skipped)
        kept = [e for e in suite.expectations if e.column in cols]
        suite = _stored_suite(ctx, gx.ExpectationSuite(name=f"{name}__present", expectations=[
            type(e)(**{k: v for k, v in e.configuration.kwargs.items()}, meta=e.meta)
            for e in kept], meta=suite.meta))
    rows: list[dict[str, Any]] = []
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    with _quiet_gx():
        # reused, not add_or_update: that gave the asset new ids on every run, and GX writes
        # them into great_expectations.yml (in git), so every refresh changed a tracked file
        try:
            source = ctx.data_sources.get("botsift_snapshots")
        except KeyError:
            source = ctx.data_sources.add_pandas("botsift_snapshots")
        try:
            asset = source.get_asset("fct_account_features")
        except LookupError:
            asset = source.add_dataframe_asset("fct_account_features")
        try:
            batch_def = asset.get_batch_definition("whole")
        except Exception:  # noqa: BLE001 - absent: add it
            batch_def = asset.add_batch_definition_whole_dataframe("whole")
        days = sorted(snapshots[date_column].unique())
        for day, frame in snapshots.groupby(date_column, sort=True):
            data = frame.drop(columns=[date_column]).reset_index(drop=True)
            batch = batch_def.get_batch(batch_parameters={"dataframe": data})
            vr = batch.validate(suite)
            # the latest date is stored and rendered into the Data Docs (several seconds);
            # earlier ones are only validated
            if build_docs and day == days[-1]:
                _publish(ctx, root, vr, suite, batch.id, day, keep_docs)
            for er in vr.results:
                cfg = er.expectation_config
                res = er.result or {}
                obs = res.get("observed_value")
                error = _error_message(er.exception_info)
                if error is not None:
                    log.warning("%s on %s, %s: GX could not compute it: %s", cfg.type,
                                cfg.kwargs.get("column"), day, error)
                kwargs = {k: v for k, v in cfg.kwargs.items()
                          if k not in ("column", "batch_id")}
                rows.append({
                    "as_of_date": pd.Timestamp(day).date(), "model_version": model_version,
                    "expectation_type": cfg.type, "feature": cfg.kwargs.get("column"),
                    "observed_value": (float(obs) if isinstance(obs, (int, float, np.number))
                                       and not isinstance(obs, bool) else np.nan),
                    "observed_json": json.dumps(_jsonable(obs) if error is None
                                                else {"error": error}),
                    "unexpected_percent": res.get("unexpected_percent", np.nan),
                    "kwargs_json": json.dumps(_jsonable(kwargs), sort_keys=True),
                    "success": bool(er.success), "validated_at": now,
                })
    if not rows:
        return empty_results()
    out = pd.DataFrame(rows)
    for c, t in RESULT_COLUMNS.items():
        if c != "as_of_date":
            out[c] = out[c].astype(t)
    if build_docs:
        log.info("GX Data Docs: %s", data_docs_dir(root) / "index.html")
    return out
