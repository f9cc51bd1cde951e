"""Training reference distributions and drift statistics (PSI, Jensen-Shannon).

At training time :func:`build_reference` bins every model feature (and the score) of the
training-period population and writes two warehouse tables that SQL monitoring reads:

``registry.feature_reference``
    One row per model version and feature: reference window, row count, null share, moments,
    range, and the drift *noise floor* (the largest PSI/JS of one reference day against the
    pooled reference; of one random part of it when it holds fewer than two days), which
    scales the per-feature thresholds.
``registry.feature_reference_bins``
    One row per model version, feature and bin: ``lower`` (inclusive, null = -inf),
    ``upper`` (exclusive, null = +inf), ``reference_share``. Bins are quantile bins of the
    reference with deduplicated edges (so zero-heavy and discrete features get one bin per
    value), two *novelty* bins below the reference minimum and above its maximum (reference
    share 0) and one null bin. The novelty bins are what make a small new population visible:
    plain quantile bins hide a 1% newcomer inside the outer bins.

It also writes the model version's Great Expectations suite (see :mod:`botsift.expectations`).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from botsift import registry_tables
from botsift.errors import BotsiftError

__all__ = ["REFERENCE_TABLE", "BINS_TABLE", "SCORE_COLUMN", "DriftSettings", "FeatureReference",
           "reference_bins", "bin_shares", "psi", "js_divergence", "range_mostly",
           "feature_reference", "load_reference_frame", "build_reference",
           "ensure_registry_tables"]

log = logging.getLogger(__name__)

REFERENCE_TABLE = "registry.feature_reference"
BINS_TABLE = "registry.feature_reference_bins"
SCORE_COLUMN = "bot_probability"
DEFAULT_QUANTILES = (0.001, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95,
                     0.99, 0.999)


@dataclass(frozen=True)
class DriftSettings:
    """Thresholds and binning of a reference; stored in the suite's meta for the record.

    Parameters
    ----------
    quantiles : tuple of float
        Reference quantiles used as interior bin edges (deduplicated).
    epsilon : float
        Floor for a share in PSI and for the tail weights of the KL partition: an empty
        reference bin counts as holding this share.
    kl_threshold : float
        Smallest KL-divergence threshold in the GX suite (nats).
    noise_multiplier : float
        Every distribution threshold is at least this many times the feature's own drift
        inside the reference window (its noise floor).
    mean_rel_tolerance, stdev_rel_tolerance : float
        Mean and standard-deviation bounds: the range of the reference days' values, widened
        by this share of the pooled value (or by the reference days' spread, if larger).
    quantile_rank_tolerance : float
        Quantile bounds: the reference value at ``q +- tolerance`` (and the reference days'
        range, widened by its spread).
    range_mostly : float
        Share of non-null values that must lie within the reference min/max, for a large
        reference; a small one allows more (see ``range_false_alarm``).
    range_false_alarm : float
        The range check allows the share of new values that falls outside the min/max of
        ``n`` reference values with at most this probability: that uncovered probability
        mass is Beta(2, n - 1) distributed for any continuous feature (mean 2/(n + 1)), so a
        100-row reference leaves about 11% of fresh values outside its range at 1e-4, a
        20,000-row one under 0.1% (``range_mostly`` then applies).
    null_share_tolerance : float
        Allowed rise of the null share over the largest daily reference null share.
    pseudo_days : int
        With fewer than two reference days there is no day-to-day drift to measure; the
        reference is then split at random into this many equal parts, which stand in for days
        in the noise floors and the daily ranges of mean, stdev, quantiles and null share. One
        of 3 parts against the whole has the sampling noise of a fresh sample of the
        reference's size against the reference (variance (k - 1)/n = 2/n), instead of 0.
    seed : int
        Seed of that split (same seed, same suite).
    """

    quantiles: tuple[float, ...] = DEFAULT_QUANTILES
    epsilon: float = 1e-4
    kl_threshold: float = 0.01
    noise_multiplier: float = 5.0
    mean_rel_tolerance: float = 0.05
    stdev_rel_tolerance: float = 0.25
    quantile_rank_tolerance: float = 0.05
    range_mostly: float = 0.999
    range_false_alarm: float = 1e-4
    null_share_tolerance: float = 0.02
    pseudo_days: int = 3
    seed: int = 0
    summary_quantiles: tuple[float, ...] = field(default=(0.05, 0.25, 0.5, 0.75, 0.95))

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a JSON-friendly dict."""
        d = asdict(self)
        d["quantiles"] = list(self.quantiles)
        d["summary_quantiles"] = list(self.summary_quantiles)
        return d


def reference_bins(values: np.ndarray, quantiles: Sequence[float] = DEFAULT_QUANTILES
                   ) -> np.ndarray:
    """Return the sorted, deduplicated bin edges of a reference sample.

    Edges are the reference minimum, the given quantiles and ``nextafter(max)``; a value ``x``
    falls in bin ``i`` (1-based regular bins) when ``edges[i-1] <= x < edges[i]``. Values below
    ``edges[0]`` and at or above ``edges[-1]`` are novelty bins (0 and ``len(edges)``).

    Parameters
    ----------
    values : numpy.ndarray
        Reference values; NaN (null) is ignored.
    quantiles : sequence of float
        Interior quantile levels in (0, 1).

    Raises
    ------
    BotsiftError
        If the sample has no non-null value.
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        raise BotsiftError("reference sample is all null: cannot bin it; check the feature")
    lo, hi = float(x.min()), float(x.max())
    inner = np.quantile(x, np.asarray(quantiles, dtype=float), method="lower")
    return np.unique(np.concatenate([[lo], inner, [np.nextafter(hi, np.inf)]]))


def bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Return the shares of ``values`` per bin: ``[below, regular..., above, null]``.

    The result has ``len(edges) + 2`` entries (below-min novelty, ``len(edges) - 1`` regular
    bins, above-max novelty, null) and sums to 1 (or is all zero for an empty input).
    """
    x = np.asarray(values, dtype=float)
    n = x.size
    out = np.zeros(len(edges) + 2)
    if n == 0:
        return out
    nulls = np.isnan(x)
    idx = np.searchsorted(edges, x[~nulls], side="right")  # 0: below, len(edges): above
    out[: len(edges) + 1] = np.bincount(idx, minlength=len(edges) + 1)
    out[-1] = nulls.sum()
    return out / n


def psi(reference: np.ndarray, current: np.ndarray, epsilon: float = 1e-4) -> float:
    """Population stability index of two share vectors over the same bins.

    ``sum((c - r) * ln(c / r))`` with both shares floored at ``epsilon``; bins empty on both
    sides contribute nothing.
    """
    r = np.maximum(np.asarray(reference, dtype=float), epsilon)
    c = np.maximum(np.asarray(current, dtype=float), epsilon)
    both_empty = (np.asarray(reference) <= 0) & (np.asarray(current) <= 0)
    return float(np.sum(np.where(both_empty, 0.0, (c - r) * np.log(c / r))))


def js_divergence(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen-Shannon divergence (base 2, in [0, 1]) of two share vectors over the same bins."""
    r = np.asarray(reference, dtype=float)
    c = np.asarray(current, dtype=float)
    m = (r + c) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kr = np.where(r > 0, r * np.log2(r / m), 0.0)
        kc = np.where(c > 0, c * np.log2(c / m), 0.0)
    return float(0.5 * kr.sum() + 0.5 * kc.sum())


@dataclass
class FeatureReference:
    """The reference of one column: bins, shares, moments and per-day spreads."""

    feature: str
    edges: np.ndarray
    shares: np.ndarray
    n_rows: int
    null_share: float
    mean: float
    stdev: float
    min: float
    max: float
    quantiles: dict[float, float]
    daily_means: list[float]
    daily_stdevs: list[float]
    daily_quantiles: dict[float, list[float]]
    max_daily_null_share: float
    psi_noise: float
    js_noise: float
    kl_noise: float
    min_daily_rows: int
    quantile_ranges: dict[float, tuple[float, float]]
    is_integral: bool
    range_mostly: float

    def bins_frame(self) -> pd.DataFrame:
        """One row per bin: bin_index, bin_kind, lower, upper, reference_share."""
        e = self.edges
        lower: list[float | None] = [None, *e.tolist(), None]
        upper: list[float | None] = [e[0], *e[1:].tolist(), None, None]
        kinds = ["below_min", *["regular"] * (len(e) - 1), "above_max", "null"]
        lower[-2] = float(e[-1])
        return pd.DataFrame({
            "bin_index": np.arange(len(kinds), dtype=np.int32), "bin_kind": kinds,
            "lower": lower, "upper": upper, "reference_share": self.shares,
        })


def _kl(observed: np.ndarray, expected: np.ndarray, epsilon: float) -> float:
    """KL(observed || expected) over non-null bins, as GX computes it with tail weights."""
    o = np.asarray(observed[:-1], dtype=float)
    e = np.asarray(expected[:-1], dtype=float)
    if o.sum() <= 0 or e.sum() <= 0:
        return 0.0
    o = o / o.sum()
    e = e / e.sum() * (1 - 2 * epsilon)
    e[0] = e[-1] = epsilon  # the novelty bins: GX tail weights
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.sum(np.where(o > 0, o * np.log(o / e), 0.0)))


def range_mostly(n_values: int, settings: DriftSettings | None = None) -> float:
    """Return the share of new values the min/max range check of ``n_values`` requires.

    The probability mass outside the min/max of ``n`` values of a continuous distribution is
    Beta(2, n - 1) distributed; the check allows its ``1 - range_false_alarm`` quantile
    (about 11.6/n at 1e-4), and never less than ``1 - range_mostly``.
    """
    s = settings or DriftSettings()
    b = max(int(n_values) - 1, 1)
    # survival function of Beta(2, b): (1 - x)^b (1 + b x); bisect it for the quantile
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if (1 - mid) ** b * (1 + b * mid) > s.range_false_alarm:
            lo = mid
        else:
            hi = mid
    return float(min(s.range_mostly, 1.0 - hi))


def _day_groups(size: int, days: np.ndarray | None, s: DriftSettings) -> list[np.ndarray]:
    """Row indices of each reference day, or of ``s.pseudo_days`` random parts if < 2 days."""
    if days is not None:
        d = np.asarray(days)
        uniq = np.unique(d)
        if len(uniq) >= 2:
            return [np.flatnonzero(d == day) for day in uniq]
    k = max(1, min(s.pseudo_days, size))
    order = np.random.default_rng(s.seed).permutation(size)
    return np.array_split(order, k)


def feature_reference(values: np.ndarray, days: np.ndarray | None = None,
                      settings: DriftSettings | None = None, name: str = "") -> FeatureReference:
    """Build the reference of one column, with per-day noise when ``days`` is given.

    Parameters
    ----------
    values : numpy.ndarray
        The reference values (NaN = null).
    days : numpy.ndarray, optional
        The snapshot date of each value; the reference window's own day-to-day drift sets the
        noise floor of the thresholds. With fewer than two days, random parts of the
        reference stand in for days (``DriftSettings.pseudo_days``), so the floor is the
        reference's sampling noise.
    settings : DriftSettings, optional
        Binning and tolerances.
    name : str
        Column name, for messages.
    """
    s = settings or DriftSettings()
    x = np.asarray(values, dtype=float)
    try:
        edges = reference_bins(x, s.quantiles)
    except BotsiftError as exc:
        raise BotsiftError(f"{name}: {exc}") from None
    shares = bin_shares(x, edges)
    nn = x[~np.isnan(x)]
    q = {p: float(v) for p, v in zip(s.summary_quantiles,
                                     np.quantile(nn, s.summary_quantiles), strict=True)}
    daily_means: list[float] = []
    daily_stdevs: list[float] = []
    daily_q: dict[float, list[float]] = {p: [] for p in s.summary_quantiles}
    null_shares: list[float] = [float(np.isnan(x).mean())]
    # The mean bound's floor is the sampling error of a day's mean: real day sizes only.
    daily_rows: list[int] = [int(x.size)]
    if days is not None and len(np.unique(np.asarray(days))) >= 2:
        daily_rows += [int(n) for n in np.unique(np.asarray(days), return_counts=True)[1]]
    tol = s.quantile_rank_tolerance
    qr = {p: (float(np.quantile(nn, max(p - tol, 0.0))), float(np.quantile(nn, min(p + tol, 1.0))))
          for p in s.summary_quantiles}
    psi_noise = js_noise = kl_noise = 0.0
    for idx in _day_groups(x.size, days, s):
        xd = x[idx]
        nd = xd[~np.isnan(xd)]
        sd = bin_shares(xd, edges)
        psi_noise = max(psi_noise, psi(shares, sd, s.epsilon))
        js_noise = max(js_noise, js_divergence(shares, sd))
        kl_noise = max(kl_noise, _kl(sd, shares, s.epsilon))
        null_shares.append(float(np.isnan(xd).mean()))
        if nd.size:
            daily_means.append(float(nd.mean()))
            daily_stdevs.append(float(nd.std(ddof=1)) if nd.size > 1 else 0.0)
            for p, v in zip(s.summary_quantiles, np.quantile(nd, s.summary_quantiles),
                            strict=True):
                daily_q[p].append(float(v))
    return FeatureReference(
        feature=name, edges=edges, shares=shares, n_rows=int(x.size),
        null_share=float(np.isnan(x).mean()), mean=float(nn.mean()),
        stdev=float(nn.std(ddof=1)) if nn.size > 1 else 0.0, min=float(nn.min()),
        max=float(nn.max()), quantiles=q, daily_means=daily_means or [float(nn.mean())],
        daily_stdevs=daily_stdevs or [float(nn.std(ddof=1)) if nn.size > 1 else 0.0],
        daily_quantiles={p: (v or [q[p]]) for p, v in daily_q.items()},
        max_daily_null_share=max(null_shares), psi_noise=psi_noise, js_noise=js_noise,
        kl_noise=kl_noise, min_daily_rows=min(daily_rows), quantile_ranges=qr,
        is_integral=bool(np.all(nn == np.round(nn))), range_mostly=range_mostly(nn.size, s),
    )


def ensure_registry_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the registry schema and the two reference tables if they do not exist.

    The DDL is :data:`botsift.registry_tables.REGISTRY_DDL` (dbt's on-run-start creates the
    same tables, so dbt sources exist on a fresh warehouse before the first training).
    """
    registry_tables.ensure_registry_tables(con, (REFERENCE_TABLE, BINS_TABLE))


def load_reference_frame(con: duckdb.DuckDBPyConnection, features: Sequence[str],
                         training_snapshot: date | str, *, days: int = 7,
                         sample_share: float = 1.0,
                         relation: str = "marts.fct_account_features",
                         extra_columns: Sequence[str] = ()) -> pd.DataFrame:
    """Load the training-period population: every account's snapshots of the last ``days``.

    The reference is the distribution of the population the model *scores* (all accounts'
    daily snapshots up to the training snapshot), not ``ml_training_examples``: labelled
    examples are biased toward reviewed (suspicious) accounts and down-sampled, so their
    distribution is not what a healthy refresh looks like.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse connection.
    features : sequence of str
        Feature columns (from :func:`botsift.manifest.column_roles`).
    training_snapshot : date or str
        The last as-of date the model was trained on; the window is
        ``(training_snapshot - days, training_snapshot]``.
    days : int
        Reference window length in days (7 covers a weekly cycle).
    sample_share : float
        Share of accounts kept by a deterministic hash of account_id (1 = all).
    relation : str
        The feature table.
    extra_columns : sequence of str
        Further columns to load as they are (for example ``region``, which routes rows to
        their segment model when the reference is scored).

    Raises
    ------
    BotsiftError
        If the window holds no rows.
    """
    cols = ", ".join([*(f'cast("{f}" as double) as "{f}"' for f in features),
                      *(f'"{c}"' for c in extra_columns)])
    sample = ("" if sample_share >= 1 else
              f" and hash(account_id) % 10000 < {int(round(sample_share * 10000))}")
    df = con.execute(
        f"select account_id, as_of_date, {cols} from {relation} "
        f"where as_of_date > cast(? as date) - interval {int(days)} day "
        f"and as_of_date <= cast(? as date){sample}",
        [str(training_snapshot), str(training_snapshot)]).df()
    if df.empty:
        raise BotsiftError(f"{relation} has no rows in the {days} days up to {training_snapshot}: "
                           "build the features (dbt build) or pick a snapshot that exists")
    return df


def build_reference(con: duckdb.DuckDBPyConnection, model_version: str, features: Sequence[str],
                    reference: pd.DataFrame | duckdb.DuckDBPyRelation,
                    scores: np.ndarray | pd.Series | None = None, *,
                    expectations_dir: Path, settings: DriftSettings | None = None,
                    date_column: str = "as_of_date") -> dict[str, Any]:
    """Write the drift reference of a model version: warehouse tables and the GX suite.

    Call it right after registering a version, with the training-period population (see
    :func:`load_reference_frame`) and, when available, the model's scores on those rows.
    Re-running it for a version replaces that version's reference.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Writable warehouse connection.
    model_version : str
        The registered version the reference belongs to.
    features : sequence of str
        The model's feature columns.
    reference : pandas.DataFrame or duckdb.DuckDBPyRelation
        Reference rows with every feature and, ideally, ``date_column``.
    scores : array-like, optional
        ``bot_probability`` of the model on the reference rows (same order).
    expectations_dir : pathlib.Path
        Great Expectations project root (``expectations/``).
    settings : DriftSettings, optional
        Binning and thresholds.
    date_column : str
        Snapshot date column; when present, it gives the reference window and noise floors.

    Returns
    -------
    dict
        ``{"model_version", "suite_name", "suite_path", "features", "n_rows",
        "reference_start_date", "reference_end_date"}``.

    Raises
    ------
    BotsiftError
        If a feature is missing from the reference, it is empty, or scores do not match it.
    """
    from botsift.expectations import build_suite  # GX imports take seconds: only here

    s = settings or DriftSettings()
    df = reference.df() if isinstance(reference, duckdb.DuckDBPyRelation) else reference
    missing = [f for f in features if f not in df.columns]
    if missing:
        raise BotsiftError(f"reference lacks feature column(s) {missing}: load it with "
                           "load_reference_frame or pass every model feature")
    if df.empty:
        raise BotsiftError("reference frame is empty: nothing to compare future data against")
    days = df[date_column].to_numpy() if date_column in df.columns else None
    columns: dict[str, np.ndarray] = {f: pd.to_numeric(df[f], errors="coerce")
                                      .to_numpy(dtype=float, na_value=np.nan) for f in features}
    if scores is not None:
        sc = np.asarray(scores, dtype=float)
        if sc.shape != (len(df),):
            raise BotsiftError(f"scores have shape {sc.shape}; expected ({len(df)},), one per "
                               "reference row")
        columns[SCORE_COLUMN] = sc
    refs = [feature_reference(v, days, s, name) for name, v in columns.items()]
    start = end = None
    if days is not None:
        start, end = pd.Timestamp(days.min()).date(), pd.Timestamp(days.max()).date()
    created = pd.Timestamp.now(tz="UTC").tz_localize(None)
    summary = pd.DataFrame([{
        "model_version": model_version, "feature": r.feature,
        "is_score": r.feature == SCORE_COLUMN, "reference_start_date": start,
        "reference_end_date": end, "n_rows": r.n_rows, "null_share": r.null_share,
        "mean": r.mean, "stdev": r.stdev, "min_value": r.min, "max_value": r.max,
        "psi_noise": r.psi_noise, "js_noise": r.js_noise, "kl_noise": r.kl_noise,
        "created_at": created} for r in refs])
    bins = pd.concat([r.bins_frame().assign(model_version=model_version, feature=r.feature)
                      for r in refs], ignore_index=True)
    bins = bins[["model_version", "feature", "bin_index", "bin_kind", "lower", "upper",
                 "reference_share"]]
    ensure_registry_tables(con)
    con.execute("begin")
    try:
        for table, frame in ((REFERENCE_TABLE, summary), (BINS_TABLE, bins)):
            con.execute(f"delete from {table} where model_version = ?", [model_version])
            con.register("_botsift_ref", frame)
            con.execute(f"insert into {table} by name select * from _botsift_ref")
            con.unregister("_botsift_ref")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    suite_name, suite_path = build_suite(Path(expectations_dir), model_version, refs, s,
                                         reference_window=(start, end))
    log.info("reference of %s: %d columns, %d rows (%s to %s); suite %s", model_version,
             len(refs), len(df), start, end, suite_path)
    return {"model_version": model_version, "suite_name": suite_name,
            "suite_path": str(suite_path), "features": list(columns), "n_rows": len(df),
            "reference_start_date": start, "reference_end_date": end}
