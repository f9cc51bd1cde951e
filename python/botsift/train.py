"""Train, evaluate, export and register a model version from ``marts.ml_training_examples``.

One call of :func:`train_models` does the whole run: search each base model's
hyper-parameters (grouped stratified CV on train), refit on train, tune the soft-vote weights
and choose thresholds on validation, export one ONNX graph (prior correction inside), check
ONNX/scikit-learn parity on test, write the immutable version folder, register it as a
``candidate`` and write the evaluation tables. Per-region models reuse the global search's
hyper-parameters and are kept only where they beat the global model on that region's
validation rows (the global base models re-voted on those rows, as the region's vote is).
"""
from __future__ import annotations

import contextlib
import logging
import os
import platform
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import skops.io as skops_io
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sklearn.pipeline import Pipeline
from sklearn.tree import export_text

from botsift import evaluation, registry
from botsift.errors import BotsiftError, first_line
from botsift.examples import TrainingExamples, load_training_examples
from botsift.explain import ensemble_payload
from botsift.export import check_parity, onnx_probabilities, to_onnx
from botsift.models import (
    DEFAULT_FAMILIES,
    DEFAULT_GRIDS,
    Ensemble,
    TuningResult,
    build_estimator,
    cv_folds,
    fit_estimator,
    n_grid_points,
    tune_ensemble_weights,
    tune_family,
)
from botsift.prior import balanced_sample_weight, correct_probability, odds_factor
from botsift.project import connect_warehouse, table_exists
from botsift.thresholds import Thresholds, check_targets, select_thresholds

__all__ = ["TrainingResult", "train_models", "new_model_version", "uninformative_features"]

log = logging.getLogger(__name__)

_LIBRARIES = ("scikit-learn", "skl2onnx", "onnx", "onnxruntime", "numpy", "duckdb", "protobuf")


@dataclass
class TrainingResult:
    """What a training run produced: the version, its folder, cards and registry rows."""

    model_version: str
    folder: Path
    cards: dict[str, dict[str, Any]]
    registered: list[dict[str, Any]] = field(default_factory=list)

    @property
    def card(self) -> dict[str, Any]:
        """The global model's card."""
        return self.cards[registry.GLOBAL_SEGMENT]


@dataclass
class _SegmentModel:
    segment: str
    ensemble: Ensemble
    base: dict[str, Any]
    thresholds: Thresholds
    base_thresholds: dict[str, Thresholds]
    val_ap: float
    odds: float
    onnx_bytes: bytes


def _git_sha() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short=7", "HEAD"],
                             cwd=Path(__file__).resolve().parent, capture_output=True,
                             text=True, check=False, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "nogit"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "nogit"


def _reserve_version(artifacts_dir: Path, version: str | None, now: datetime
                     ) -> tuple[str, Path]:
    """Claim a version id before training: a ``.reserved-<version>`` file made exclusively.

    Two runs started in the same second used to draw the same id, and the second learned it
    only when writing its folder, after training. Without an explicit ``version`` the next
    free second is taken. Also checks, before minutes of training, that the artifacts folder
    is (or can be made) a folder.

    Returns
    -------
    tuple
        The version id and its reservation file (the caller removes it when done).

    Raises
    ------
    BotsiftError
        If the artifacts path is not a folder, or ``version`` exists or is being trained.
    """
    try:
        artifacts_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BotsiftError(f"the artifacts folder {artifacts_dir} cannot be made "
                           f"({exc.strerror or exc}): set BOTSIFT_ARTIFACTS to a folder") from None
    candidates = [version] if version else [new_model_version(now + timedelta(seconds=i))
                                           for i in range(120)]
    for v in candidates:
        lock = artifacts_dir / f".reserved-{v}"
        if (artifacts_dir / v).exists():
            continue
        try:
            os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            continue
        except OSError as exc:
            raise BotsiftError(f"cannot write to the artifacts folder {artifacts_dir} "
                               f"({exc.strerror or exc})") from None
        return v, lock
    if version:
        raise BotsiftError(f"{artifacts_dir / version} exists or is being trained: versions are "
                           "immutable")
    raise BotsiftError(f"no free version id in the next 120 s under {artifacts_dir}: remove "
                       "stale .reserved-* files there")


def new_model_version(now: datetime | None = None) -> str:
    """A version id like ``20261123T101500-1a2b3c4``: UTC time and the code's git sha."""
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y%m%dT%H%M%S')}-{_git_sha()}"


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for lib in _LIBRARIES:
        try:
            out[lib] = importlib_metadata.version(lib)
        except importlib_metadata.PackageNotFoundError:
            out[lib] = "missing"
    return out


@contextlib.contextmanager
def _bar(enabled: bool, total: int, description: str) -> Iterator[Any]:
    """A rich progress bar on stderr (or a no-op) advanced once per model fit."""
    if not enabled:
        yield lambda: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as prog:
        task = prog.add_task(description, total=total)
        yield lambda: prog.advance(task)


def uninformative_features(train: TrainingExamples) -> dict[str, str]:
    """Features that carry no information on the train split, with the reason.

    A feature that is null on every train row, or takes a single value on all of them, cannot
    split anything: it only costs scoring time, and a column of nulls breaks histogram
    binning. Account-metadata loads (``botsift load-accounts``, event tables empty) make most
    behavioural features such columns.

    Returns
    -------
    dict
        ``{feature: "all null" | "constant"}`` in feature order.
    """
    out: dict[str, str] = {}
    for j, name in enumerate(train.features):
        col = train.X[:, j]
        values = col[~np.isnan(col)]
        if values.size == 0:
            out[name] = "all null"
        elif values.min() == values.max():
            out[name] = "constant"
    return out


def _tuning_rows(train: TrainingExamples, max_rows: int, seed: int) -> np.ndarray:
    """Indices of a class-stratified random subsample of train (all rows when small)."""
    n = len(train.y)
    if n <= max_rows:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    frac = max_rows / n
    keep = [np.sort(rng.choice(np.nonzero(train.y == c)[0],
                               max(1, round(frac * (train.y == c).sum())), replace=False))
            for c in (0, 1)]
    return np.sort(np.concatenate(keep))


def _search(train: TrainingExamples, families: Sequence[str], grids: dict[str, dict[str, list]],
            *, n_splits: int, max_rows: int, seed: int, progress: bool) -> dict[str, TuningResult]:
    idx = _tuning_rows(train, max_rows, seed)
    X, y, r, g = train.X[idx], train.y[idx], train.sampling_rate[idx], train.group[idx]
    folds = cv_folds(y, g, n_splits, seed)
    codes = np.unique(g, return_inverse=True)[1]  # each fit's hold-out sorts ints, not strings
    total = sum(n_grid_points(grids[f]) for f in families) * n_splits
    log.info("searching hyper-parameters: %d fits on %d train rows (%d-fold grouped CV)",
             total, len(idx), n_splits)
    out: dict[str, TuningResult] = {}
    with _bar(progress, total, "tuning base models") as tick:
        for fam in families:
            out[fam] = tune_family(fam, X, y, r, folds, grids[fam], seed=seed, groups=codes,
                                   on_fit=tick)
            log.info("  %s: best %s, CV PR AUC %.4f", fam, out[fam].best_params,
                     out[fam].best_score)
    return out


def _fit_segment(segment: str, train: TrainingExamples, val: TrainingExamples,
                 tuned: dict[str, TuningResult], *, version: str, seed: int,
                 precision_target: float, recall_target: float, weight_step: float,
                 progress: bool) -> _SegmentModel:
    """Fit the base models, tune the vote, export to ONNX and choose thresholds on validation.

    The ensemble's thresholds are chosen on the exported graph's validation scores: that is
    what scoring compares with them. The graph computes in float32, so a row lying exactly
    on a threshold chosen on scikit-learn's float64 scores lands below it about half the
    time (a tree's leaf scores are shared by many rows), and the card's precision and recall
    would describe decisions that scoring never makes.
    """
    names = list(tuned)
    w_fit = balanced_sample_weight(train.y, train.sampling_rate)
    ests = []
    with _bar(progress, len(names), f"fitting {segment} models") as tick:
        for fam in names:
            est = build_estimator(fam, tuned[fam].best_params, seed)
            ests.append(fit_estimator(est, train.X, train.y, w_fit, groups=train.group))
            tick()
    raw_val = np.column_stack([e.predict_proba(val.X)[:, 1] for e in ests])
    weights, val_ap = tune_ensemble_weights(raw_val, val.y, val.weight, step=weight_step)
    k = odds_factor(train.y, train.sampling_rate)
    ens = Ensemble(names, ests, weights, k)
    log.info("%s ensemble weights %s (validation PR AUC %.4f), prior odds factor %.5g",
             segment, dict(zip(names, np.round(weights, 3).tolist(), strict=True)), val_ap, k)
    onnx_bytes = to_onnx(ens, len(train.features),
                         metadata={"model_version": version, "segment": segment,
                                   "features": ",".join(train.features)})
    val_scores = onnx_probabilities(onnx_bytes, val.X)
    th = select_thresholds(val.y, val_scores, weight=val.weight,
                           precision_target=precision_target, recall_target=recall_target)
    for note in th.notes:
        log.warning("%s: %s", segment, note)
    base_th = {n: select_thresholds(val.y, correct_probability(raw_val[:, i], k),
                                    weight=val.weight, precision_target=precision_target,
                                    recall_target=recall_target)
               for i, n in enumerate(names)}
    base = dict(zip(names, ests, strict=True))
    return _SegmentModel(segment, ens, base, th, base_th, val_ap, k, onnx_bytes)


def _region_comparison(region: _SegmentModel, glob: _SegmentModel, val: TrainingExamples,
                       weight_step: float) -> tuple[bool, dict[str, float]]:
    """Whether to keep a region's model, and the validation PR AUCs on its rows behind that.

    The region model's vote was tuned on these very rows, which flatters it; the global base
    models get the same chance (their best vote on the region's rows, on the same grid), and
    the region model is kept only if it beats that (``>``: a tie keeps the global model).
    The deployed global ensemble's own figure is recorded beside them.
    """
    deployed = evaluation.weighted_average_precision(
        val.y, glob.ensemble.predict_proba(val.X), val.weight)
    revoted = np.column_stack([e.predict_proba(val.X)[:, 1] for e in glob.base.values()])
    _, best = tune_ensemble_weights(revoted, val.y, val.weight, step=weight_step)
    return region.val_ap > best, {"region_model_validation_pr_auc": region.val_ap,
                                  "global_model_validation_pr_auc": deployed,
                                  "global_revoted_validation_pr_auc": best}


def _overall(rows: list[tuple]) -> dict[str, float]:
    return {r[6]: r[7] for r in rows if r[4] == "overall"}


def _evaluate(version: str, sm: _SegmentModel, splits: dict[str, TrainingExamples], *,
              seed: int, n_boot: int) -> tuple[list[tuple], list[tuple], dict[str, Any]]:
    """Metric and calibration rows for the ensemble and each base model; card summary.

    The ensemble is evaluated on its ONNX graph's scores (what scoring serves), the base
    models, which are not deployed, on scikit-learn's.
    """
    mrows: list[tuple] = []
    crows: list[tuple] = []
    summary: dict[str, Any] = {}
    for split, data in splits.items():
        models: dict[str, tuple[np.ndarray, Thresholds]] = {
            "ensemble": (onnx_probabilities(sm.onnx_bytes, data.X), sm.thresholds)}
        for name, est in sm.base.items():
            s = correct_probability(est.predict_proba(data.X)[:, 1], sm.odds)
            models[name] = (s, sm.base_thresholds[name])
        for name, (s, th) in models.items():
            extra = {}
            if split == "test":
                lo, hi = evaluation.bootstrap_pr_auc(data.y, s, data.weight, data.group,
                                                     n_resamples=n_boot, seed=seed)
                extra = {"pr_auc_ci95_low": lo, "pr_auc_ci95_high": hi,
                         "bootstrap_resamples": float(n_boot)}
            rows = evaluation.metric_rows(
                model_version=version, model_segment=sm.segment, model_name=name, split=split,
                y=data.y, scores=s, weight=data.weight, segments=data.segments,
                thresholds={"action": th.action, "review": th.review}, extra=extra)
            mrows += rows
            crows += evaluation.calibration_rows(
                model_version=version, model_segment=sm.segment, model_name=name, split=split,
                y=data.y, scores=s, weight=data.weight, segments=data.segments)
            summary.setdefault(name, {})[split] = _overall(rows)
    return mrows, crows, summary


def _tree_rules(sm: _SegmentModel, features: list[str]) -> str | None:
    est = sm.base.get("decision_tree")
    if est is None:
        return None
    tree = est.steps[-1][1] if isinstance(est, Pipeline) else est
    w = dict(zip(sm.ensemble.names, sm.ensemble.weights.tolist(), strict=True))
    head = (f"# Decision tree of this model version ({sm.segment}); ensemble weight "
            f"{w.get('decision_tree', 0.0):.2f}.\n"
            "# Inputs are median-imputed first (NULL -> train median); class 1 = bot.\n"
            "# Leaf values are class weights under balanced, down-sampling-corrected weights.\n")
    return head + export_text(tree, feature_names=list(features), show_weights=True,
                              decimals=4)


def _explain(sm: _SegmentModel) -> dict[str, Any] | None:
    """What scoring needs to say why an account is flagged: the deployed ensemble's own
    per-feature contributions (:mod:`botsift.explain`), or None for a member it cannot split."""
    ens = sm.ensemble
    return ensemble_payload(ens.names, ens.estimators, ens.weights, ens.odds_factor)


def _card(version: str, sm: _SegmentModel, data: TrainingExamples, tuned: dict[str, TuningResult],
          parity: dict[str, Any], summary: dict[str, Any], *, seed: int,
          label_sources: list[str] | None, created_at: datetime) -> dict[str, Any]:
    train = data.subset(data.mask("train"))
    neg_rate = train.sampling_rate[train.y == 0]
    pos_rate = train.sampling_rate[train.y == 1]
    return {
        "model_version": version,
        "segment": sm.segment,
        "created_at": created_at.isoformat(),
        "model_name": "ensemble",
        "features": data.features,
        "dropped_features": data.extra.get("dropped_features", {}),
        "feature_types": data.extra.get("feature_types", {}),
        "explain": _explain(sm),
        "input": {"name": "input", "dtype": "float32", "shape": [None, len(data.features)],
                  "nulls": "NaN; imputed inside the graph"},
        "outputs": {"label": "int64, probability > 0.5",
                    "probabilities": "float32 [N, 2], column 1 = prior-corrected P(bot)"},
        "thresholds": sm.thresholds.as_dict(),
        "sampling": {
            "odds_factor": sm.odds,
            "negative_sampling_rate_mean": float(neg_rate.mean()),
            "positive_sampling_rate_mean": float(pos_rate.mean()),
            "correction": "models fit with balanced, inverse-sampling-rate weights; the ONNX "
                          "graph multiplies the soft vote's odds by odds_factor = estimated "
                          "population bot odds (sum of 1/rate over positives / negatives)",
        },
        "training_snapshot": None if data.snapshot is None else str(data.snapshot),
        "rows": data.counts(),
        "ensemble": {"members": sm.ensemble.names, "weights": sm.ensemble.weights.tolist(),
                     "validation_pr_auc": sm.val_ap,
                     "weight_search": "simplex grid maximizing weighted validation PR AUC"},
        "base_models": {
            fam: {"params": tuned[fam].best_params, "cv_pr_auc": tuned[fam].best_score,
                  "search": tuned[fam].scores,
                  "thresholds": sm.base_thresholds[fam].as_dict(),
                  **({"n_iter": int(est.n_iter_)} if hasattr(est, "n_iter_") else {})}
            for fam, est in sm.base.items()},
        "metrics": summary,
        "parity": parity,
        "libraries": _versions(),
        "seed": seed,
        "label_sources": label_sources,
        "code_version": _git_sha(),
    }


def _parity(sm: _SegmentModel, onnx_bytes: bytes, test: TrainingExamples) -> dict[str, Any]:
    sk = sm.ensemble.predict_proba(test.X)
    ox = onnx_probabilities(onnx_bytes, test.X)
    th = {"action": sm.thresholds.action, "review": sm.thresholds.review}
    par = check_parity(sk, ox, th)
    if not par.passed:
        raise BotsiftError(f"{sm.segment}: ONNX and scikit-learn disagree on test (max abs diff "
                           f"{par.max_abs_diff:.3g}, decision mismatches "
                           f"{par.decision_mismatches}); the model was not registered")
    log.info("%s ONNX parity on %d test rows: max abs diff %.3g, ties %s", sm.segment,
             par.n_rows, par.max_abs_diff, par.ties)
    return {"split": "test", **par.as_dict()}


def train_models(warehouse: Path, manifest: dict, artifacts_dir: Path, *,
                 precision_target: float = 0.95, recall_target: float = 0.90,
                 per_region: bool = True, seed: int = 0,
                 label_sources: list[str] | None = None, progress: bool = True,
                 families: Sequence[str] = DEFAULT_FAMILIES,
                 grids: dict[str, dict[str, list]] | None = None, n_splits: int = 3,
                 tune_max_rows: int = 60_000, min_region_positives: int = 200,
                 min_region_validation_positives: int = 30, region_column: str = "region",
                 bootstrap_resamples: int = 500, weight_step: float = 0.1,
                 model_version: str | None = None, register: bool = True,
                 expectations_dir: Path | None = None,
                 reference_max_rows: int = 300_000) -> TrainingResult:
    """Train the global (and per-region) ensemble, export, evaluate and register a version.

    Parameters
    ----------
    warehouse : Path
        DuckDB warehouse holding ``marts.ml_training_examples``.
    manifest : dict
        Loaded dbt manifest (column roles).
    artifacts_dir : Path
        Registry folder; the version is written to ``artifacts_dir / model_version``.
    precision_target, recall_target : float
        Targets for the action and review thresholds (chosen on validation).
    per_region : bool
        Also train per-region models where a region has ``min_region_positives`` positive
        train rows (and ``min_region_validation_positives`` in validation); each is kept only
        if its validation PR AUC on the region's rows beats the global base models' best vote
        on the same rows (both votes tuned there, so neither is flattered; a tie keeps the
        global model).
    seed : int
        The only source of randomness.
    label_sources : list of str, optional
        Train only on rows with these label sources.
    progress : bool
        Show progress bars on stderr.
    families, grids, n_splits, tune_max_rows
        Base model families, their search grids (default :data:`DEFAULT_GRIDS`), CV folds,
        and the train-row cap for the search (a class-stratified subsample above it).
    bootstrap_resamples : int
        Resamples for the test PR AUC interval (groups resampled whole).
    weight_step : float
        Grid step of the soft-vote weight search.
    model_version : str, optional
        Defaults to :func:`new_model_version`.
    register : bool
        Register the version (status ``candidate``) in ``registry.model_versions``.

    Returns
    -------
    TrainingResult

    Raises
    ------
    BotsiftError
        If the training table is missing, empty or one-class, the version exists, or ONNX
        parity fails.
    """
    check_targets(precision_target, recall_target)  # before minutes of search, not after
    created = datetime.now(UTC)
    version, reservation = _reserve_version(Path(artifacts_dir), model_version, created)
    try:
        grids = {**DEFAULT_GRIDS, **(grids or {})}
        data = load_training_examples(warehouse, manifest, label_sources=label_sources)
        counts = data.counts()
        log.info("training examples: %s", ", ".join(
            f"{s} {c['rows']:,} rows ({c['positives']:,} bots)" for s, c in counts.items()))
        dropped = uninformative_features(data.subset(data.mask("train")))
        if dropped:
            kept = [f for f in data.features if f not in dropped]
            if not kept:
                raise BotsiftError("no feature carries information on the train split (every one is "
                                   "null or constant): check the feature marts were built")
            log.info("training on %d of %d features; dropped as uninformative on train: %s",
                     len(kept), len(data.features), ", ".join(f"{f} ({why})" for f, why in dropped.items()))
            data = data.select_features(kept)
        data.extra["dropped_features"] = dropped
        train, val, test = (data.subset(data.mask(s)) for s in ("train", "validation", "test"))

        tuned = _search(train, families, grids, n_splits=n_splits, max_rows=tune_max_rows,
                        seed=seed, progress=progress)
        kw: dict[str, Any] = {"version": version, "seed": seed, "precision_target": precision_target, "recall_target": recall_target,
              "weight_step": weight_step, "progress": progress}
        models = {registry.GLOBAL_SEGMENT: _fit_segment(registry.GLOBAL_SEGMENT, train, val,
                                                        tuned, **kw)}
        selection: dict[str, dict[str, Any]] = {}
        if per_region:
            if region_column not in data.segments:
                raise BotsiftError(f"per-region models need a segment column {region_column!r}; "
                                   "pass per_region=False (CLI: --no-per-region)")
            glob = models[registry.GLOBAL_SEGMENT]
            for region in sorted(set(train.segments[region_column].tolist())):
                tr = train.subset(train.segments[region_column] == region)
                va = val.subset(val.segments[region_column] == region)
                n_tr, n_va = int(tr.y.sum()), int(va.y.sum())
                info: dict[str, Any] = {"train_positives": n_tr, "validation_positives": n_va}
                if n_tr < min_region_positives or n_va < min_region_validation_positives \
                        or va.y.min() == va.y.max() or tr.y.min() == tr.y.max():
                    info["decision"] = (f"global (needs >= {min_region_positives} train and >= "
                                        f"{min_region_validation_positives} validation positives)")
                    selection[region] = info
                    continue
                sm = _fit_segment(region, tr, va, tuned, **kw)
                keep, figures = _region_comparison(sm, glob, va, weight_step)
                info |= figures
                if keep:
                    models[region] = sm
                    info["decision"] = "region model"
                else:
                    info["decision"] = "global (region model did not beat it on validation)"
                selection[region] = info
                log.info("region %s: %s", region, info["decision"])

        artifacts: dict[str, registry.SegmentArtifact] = {}
        cards: dict[str, dict[str, Any]] = {}
        mrows: list[tuple] = []
        crows: list[tuple] = []
        for seg, sm in models.items():
            if seg == registry.GLOBAL_SEGMENT:
                seg_data, seg_test = data, test
                splits = {"validation": val, "test": test}
            else:
                seg_data = data.subset(data.segments[region_column] == seg)
                seg_test = test.subset(test.segments[region_column] == seg)
                splits = {"validation": val.subset(val.segments[region_column] == seg),
                          "test": seg_test}
            onnx_bytes = sm.onnx_bytes
            parity = _parity(sm, onnx_bytes, seg_test)
            m, c, summary = _evaluate(version, sm, splits, seed=seed, n_boot=bootstrap_resamples)
            mrows += m
            crows += c
            card = _card(version, sm, seg_data, tuned, parity, summary, seed=seed,
                         label_sources=label_sources, created_at=created)
            if seg == registry.GLOBAL_SEGMENT:
                card["segment_models"] = {"column": region_column if per_region else None,
                                          "min_region_positives": min_region_positives,
                                          "regions": selection}
            rules = _tree_rules(sm, data.features)
            artifacts[seg] = registry.SegmentArtifact(
                onnx_bytes, card, {"tree_rules.txt": rules} if rules else {},
                sklearn_bytes=skops_io.dumps(sm.ensemble))
            cards[seg] = card
        folder = registry.write_version(Path(artifacts_dir), version, artifacts)
        try:
            cards = {seg: _read_card(folder, seg) for seg in cards}
            registered = registry.register(warehouse, folder) if register else []
        except BaseException:
            # an unregistered folder is an orphan no command can register: remove it
            shutil.rmtree(folder, ignore_errors=True)
            raise
        try:
            evaluation.write_evaluation(warehouse, version, mrows, crows)
            if register and expectations_dir is not None and data.snapshot is not None:
                _write_drift_reference(warehouse, version, folder, data, Path(expectations_dir),
                                       reference_max_rows)
        except BaseException:
            # a registered candidate without its evaluation or GX suite would fail the next
            # build's drift validation: undo what this run wrote, then report the cause
            _withdraw(warehouse, version, folder, register, expectations_dir)
            raise
        test_m = cards[registry.GLOBAL_SEGMENT]["metrics"]["ensemble"]["test"]
        log.info("model version %s written to %s: test PR AUC %.4f [%.4f, %.4f], precision %.3f / "
                 "recall %.3f at the action threshold", version, folder, test_m.get("pr_auc", 0),
                 test_m.get("pr_auc_ci95_low", 0), test_m.get("pr_auc_ci95_high", 0),
                 test_m.get("precision_at_action", 0), test_m.get("recall_at_action", 0))
        return TrainingResult(version, folder, cards, registered)
    finally:
        reservation.unlink(missing_ok=True)


def _withdraw(warehouse: Path, version: str, folder: Path, registered: bool,
              expectations_dir: Path | str | None) -> None:
    """Undo a training run that failed after writing its version folder and registry rows."""
    from botsift.drift import BINS_TABLE, REFERENCE_TABLE
    from botsift.expectations import suite_name

    try:
        if registered:
            registry.withdraw(warehouse, version, (evaluation.EVALUATION_TABLE,
                                                   evaluation.CALIBRATION_TABLE,
                                                   REFERENCE_TABLE, BINS_TABLE))
        else:
            con = connect_warehouse(warehouse)
            try:
                for table in (evaluation.EVALUATION_TABLE, evaluation.CALIBRATION_TABLE):
                    if table_exists(con, *table.split(".")):
                        con.execute(f"delete from {table} where model_version = ?", [version])
            finally:
                con.close()
    except (BotsiftError, duckdb.Error) as exc:  # the original failure is the one to report
        log.warning("could not undo the registration of %s: %s", version, exc)
        return
    shutil.rmtree(folder, ignore_errors=True)
    if expectations_dir is not None:
        # the folder may be the cause (a path under a file): nothing to remove there then
        with contextlib.suppress(OSError):
            (Path(expectations_dir) / "gx" / "expectations" / f"{suite_name(version)}.json"
             ).unlink(missing_ok=True)
    log.warning("training of %s failed after it was registered: the version was withdrawn", version)


def _write_drift_reference(warehouse: Path, version: str, folder: Path, data: TrainingExamples,
                           expectations_dir: Path, max_rows: int) -> None:  # noqa: D417
    """Reference distribution and GX suite of the new version (see :mod:`botsift.drift`).

    The reference is the scored population of the 7 days up to the training snapshot (a hash
    sample of accounts when that is more than ``max_rows`` rows), with the version's own
    scores on it, each row scored as scoring routes it: by its region's model where the
    version has one, else by the global model (mon_score_drift compares the scores written
    with this reference).
    """
    from botsift.drift import build_reference, load_reference_frame

    con = connect_warehouse(warehouse)
    try:
        if not table_exists(con, "marts", "fct_account_features"):
            log.warning("marts.fct_account_features not found: no drift reference or GX suite "
                        "for %s (drift monitoring stays empty for it)", version)
            return
        n = con.execute("select count(*) from marts.fct_account_features where as_of_date > "
                        "cast(? as date) - interval 7 day and as_of_date <= cast(? as date)",
                        [str(data.snapshot), str(data.snapshot)]).fetchall()[0][0]
        share = 1.0 if n <= max_rows else max_rows / n
        assert data.snapshot is not None  # the caller checks
        segments = sorted(p.parent.name
                          for p in (folder / "segments").glob(f"*/{registry.ONNX_NAME}"))
        try:
            ref = load_reference_frame(con, data.features, data.snapshot, days=7,
                                       sample_share=share,
                                       extra_columns=["region"] if segments else [])
        except duckdb.Error as exc:  # a feature column dropped from the mart since the split
            raise BotsiftError(f"cannot read the drift reference of {version} from "
                               f"marts.fct_account_features ({type(exc).__name__}: "
                               f"{first_line(exc)})") from None
        x = ref[data.features].to_numpy(dtype=np.float32, na_value=np.nan)
        scores = onnx_probabilities((folder / registry.ONNX_NAME).read_bytes(), x)
        for seg in segments:  # scoring routes a region's rows to its own model (column region)
            mask = (ref["region"] == seg).to_numpy(dtype=bool, na_value=False)
            if mask.any():
                scores[mask] = onnx_probabilities(
                    (folder / "segments" / seg / registry.ONNX_NAME).read_bytes(), x[mask])
        info = build_reference(con, version, data.features, ref, scores,
                               expectations_dir=expectations_dir)
        log.info("drift reference of %s: %s rows from %s to %s, suite %s", version,
                 f"{info['n_rows']:,}", info["reference_start_date"], info["reference_end_date"],
                 info["suite_name"])
    finally:
        con.close()


def _read_card(folder: Path, segment: str) -> dict[str, Any]:
    import json

    d = folder if segment == registry.GLOBAL_SEGMENT else folder / "segments" / segment
    return json.loads((d / "model_card.json").read_text())
