"""Robustness: how much a small change of one feature moves a model's scores and decisions.

On the test split of ``marts.ml_training_examples`` each feature is perturbed on its own,
the rest left as they are, and the model's global ONNX graph re-scores the rows:

- binary features (``is_``/``has_`` names, the house style for booleans): flipped (``flip``);
- integer-valued features (counts, days, lengths; no ``ratio`` in the name): ``+1`` and
  ``-1`` (not below 0 when the feature never is);
- everything else (rates, ratios, averages): ``+5%`` and ``-5%`` relative, clipped to the
  range seen in the split so a share never leaves [0, 1].

Nulls stay null. Per feature and perturbation the result holds the mean and largest
absolute change of ``bot_probability`` and the share of rows whose decision flips at the
action threshold and at the review threshold (crossing it either way). The results are
written to ``marts.ml_model_robustness`` (rows of a version are replaced).
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from botsift.errors import BotsiftError
from botsift.examples import SPLITS
from botsift.project import connect_warehouse
from botsift.registry import GLOBAL_SEGMENT, VERSIONS_TABLE, load_active
from botsift.scoring import verify_model_file

__all__ = ["ROBUSTNESS_TABLE", "PerturbationResult", "perturbations", "feature_robustness",
           "run_robustness"]

log = logging.getLogger(__name__)

ROBUSTNESS_TABLE = "marts.ml_model_robustness"
RELATIVE_STEP = 0.05
COUNT_STEP = 1.0


@dataclass
class PerturbationResult:
    """One feature perturbed one way, scored."""

    model_version: str
    feature: str
    feature_kind: str
    perturbation: str
    n_rows: int
    mean_abs_score_change: float
    max_abs_score_change: float
    action_flip_share: float
    review_flip_share: float


def _kind(values: np.ndarray, name: str = "") -> str:
    # names first (house style: is_/has_ booleans, *_ratio* shares), since a sparse ratio can
    # hold only 0s and 1s in a split; then the values
    v = values[~np.isnan(values)]
    if name.startswith(("is_", "has_")) or (not name and v.size and np.isin(v, (0.0, 1.0)).all()):
        return "binary"
    if "ratio" not in name and v.size and np.equal(np.floor(v), v).all():
        return "integer"
    return "continuous"


def perturbations(values: np.ndarray, name: str = "", *, relative_step: float = RELATIVE_STEP,
                  count_step: float = COUNT_STEP) -> tuple[str, dict[str, np.ndarray]]:
    """Return a feature's kind and its perturbed copies, by name.

    Parameters
    ----------
    values : numpy.ndarray
        One feature column (float, NaN for null).
    name : str
        The feature's name: ``is_``/``has_`` mark binary features and a ``ratio`` in the
        name continuous ones; without a name, the values decide (only 0/1: binary).
    relative_step : float
        Relative change of continuous features (0.05 = +-5%).
    count_step : float
        Absolute change of integer-valued features.

    Returns
    -------
    tuple
        ``(kind, {perturbation_name: perturbed_values})`` with kind ``binary``, ``integer``
        or ``continuous``.
    """
    x = np.asarray(values, dtype=np.float64)
    kind = _kind(x, name)
    finite = x[~np.isnan(x)]
    if kind == "binary":
        return kind, {"flip": np.where(np.isnan(x), np.nan, 1.0 - x)}
    lo = float(finite.min()) if finite.size else -np.inf
    hi = float(finite.max()) if finite.size else np.inf
    if kind == "integer":
        floor = 0.0 if lo >= 0 else -np.inf
        step = f"{count_step:g}"
        return kind, {f"+{step}": x + count_step,
                      f"-{step}": np.maximum(x - count_step, floor)}
    pct = f"{relative_step * 100:g}%"
    return kind, {f"+{pct}": np.clip(x * (1 + relative_step), lo, hi),
                  f"-{pct}": np.clip(x * (1 - relative_step), lo, hi)}


def feature_robustness(onnx_bytes: bytes, X: np.ndarray, features: list[str], *,
                       action_threshold: float, review_threshold: float, model_version: str,
                       relative_step: float = RELATIVE_STEP,
                       count_step: float = COUNT_STEP) -> list[PerturbationResult]:
    """Perturb each feature of ``X`` in turn and measure score and decision changes.

    Parameters
    ----------
    onnx_bytes : bytes
        The model's ONNX graph (input: float32 matrix in ``features`` order).
    X : numpy.ndarray
        Rows to score, shape (n, len(features)), NaN for null.
    features : list of str
        Column names of ``X``.
    action_threshold, review_threshold : float
        The model's decision thresholds.

    Returns
    -------
    list of PerturbationResult
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != len(features):
        raise BotsiftError(f"feature matrix has shape {X.shape}; expected (n, {len(features)})")
    if len(X) == 0:
        raise BotsiftError("no rows to perturb: the feature matrix is empty")
    score = _scorer(onnx_bytes)
    base = score(X)
    base_action, base_review = base >= action_threshold, base >= review_threshold
    out: list[PerturbationResult] = []
    for j, name in enumerate(features):
        kind, variants = perturbations(X[:, j].astype(np.float64), name, relative_step=relative_step,
                                       count_step=count_step)
        for label, col in variants.items():
            Xp = X.copy()
            Xp[:, j] = col.astype(np.float32)
            p = score(Xp)
            d = np.abs(p - base)
            out.append(PerturbationResult(
                model_version=model_version, feature=name, feature_kind=kind,
                perturbation=label, n_rows=len(X), mean_abs_score_change=float(d.mean()),
                max_abs_score_change=float(d.max()),
                action_flip_share=float(((p >= action_threshold) != base_action).mean()),
                review_flip_share=float(((p >= review_threshold) != base_review).mean())))
    return out


def _scorer(onnx_bytes: bytes) -> Any:
    """One onnxruntime session for all the re-scorings; returns ``X -> P(bot)``."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(onnx_bytes, opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    outputs = [o.name for o in sess.get_outputs()]
    prob = "probabilities" if "probabilities" in outputs else outputs[-1]

    def score(X: np.ndarray) -> np.ndarray:
        p = sess.run([prob], {name: np.ascontiguousarray(X, np.float32)})[0]
        return np.asarray(p[:, 1] if p.ndim == 2 else p, dtype=np.float64)

    return score


def _model(con: duckdb.DuckDBPyConnection,
           model_version: str) -> tuple[str, bytes, dict[str, Any], float, float]:
    rows = con.execute(f"select onnx_path, onnx_sha256, action_threshold, review_threshold, card "
                       f"from {VERSIONS_TABLE} where model_version = ? and segment = ?",
                       [model_version, GLOBAL_SEGMENT]).fetchall()
    if not rows:
        raise BotsiftError(f"model version {model_version} is not registered: see "
                           "`botsift models list`")
    path, sha, action, review, card = rows[0]
    data = verify_model_file(Path(path), sha)
    card_d = json.loads(card) if isinstance(card, str) else dict(card)
    return model_version, data, card_d, float(action), float(review)


def run_robustness(warehouse: Path, *, model_version: str | None = None, split: str = "test",
                   relative_step: float = RELATIVE_STEP, count_step: float = COUNT_STEP,
                   write: bool = True) -> list[PerturbationResult]:
    """Run the perturbation study of a version (default: the active one) and store it.

    Parameters
    ----------
    warehouse : Path
        DuckDB warehouse with ``marts.ml_training_examples`` and the registry.
    model_version : str, optional
        A registered version; the active one by default.
    split : str
        Split of ``ml_training_examples`` to perturb (``test`` by default).
    relative_step, count_step : float
        Perturbation sizes (see the module docstring).
    write : bool
        Replace the version's rows in ``marts.ml_model_robustness``.

    Raises
    ------
    BotsiftError
        If the split is not train/validation/test or a step is not above 0, the warehouse,
        the model or the split's rows are missing, or a model feature is not a column of the
        training table.
    """
    if split not in SPLITS:
        raise BotsiftError(f"split {split!r}: use one of {', '.join(SPLITS)}")
    for name, step in (("relative step", relative_step), ("count step", count_step)):
        if not step > 0:
            raise BotsiftError(f"{name} {step:g} must be above 0 (each feature is moved up and down by it)")
    if model_version is None:
        # before opening ``con``: DuckDB refuses a second connection to the file with other
        # options, and load_active opens one for writing while ``con`` may be read-only
        model_version = load_active(warehouse, GLOBAL_SEGMENT).model_version
    con = connect_warehouse(warehouse, read_only=not write)
    try:
        version, onnx_bytes, card, action, review = _model(con, model_version)
        features = list(card["features"])
        cols = {r[0] for r in con.execute(
            "select column_name from duckdb_columns() where schema_name = 'marts' "
            "and table_name = 'ml_training_examples'").fetchall()}
        if not cols:
            raise BotsiftError("marts.ml_training_examples does not exist: run "
                               "`dbt build --selector training`")
        missing = [f for f in features if f not in cols]
        if missing:
            raise BotsiftError(f"model {version} needs feature(s) {missing} that "
                               "ml_training_examples lacks: rebuild the training marts")
        sel = ", ".join(f'cast("{f}" as double) as "{f}"' for f in features)
        df = con.execute(f"select {sel} from marts.ml_training_examples where split = ? "
                         "order by account_id, as_of_date", [split]).df()
        X = df.to_numpy(dtype=np.float64, na_value=np.nan)
        if not len(X):
            raise BotsiftError(f"no rows to perturb: the {split} split of "
                               "marts.ml_training_examples is empty")
        log.info("robustness of %s on %d %s rows, %d features", version, len(X), split,
                 len(features))
        results = feature_robustness(onnx_bytes, X, features, action_threshold=action,
                                     review_threshold=review, model_version=version,
                                     relative_step=relative_step, count_step=count_step)
        if write:
            _write(con, version, split, results)
    finally:
        con.close()
    return results


def _write(con: duckdb.DuckDBPyConnection, version: str, split: str,
           results: list[PerturbationResult]) -> None:
    import pandas as pd

    frame = pd.DataFrame([asdict(r) for r in results]).assign(
        split=split, created_at=datetime.now(UTC).replace(tzinfo=None))
    con.execute("create schema if not exists marts")
    con.execute(f"""create table if not exists {ROBUSTNESS_TABLE} (
        model_version varchar not null, feature varchar not null, feature_kind varchar not null,
        perturbation varchar not null, split varchar not null, n_rows bigint not null,
        mean_abs_score_change double not null, max_abs_score_change double not null,
        action_flip_share double not null, review_flip_share double not null,
        created_at timestamp not null)""")
    con.execute("begin")
    try:
        con.execute(f"delete from {ROBUSTNESS_TABLE} where model_version = ?", [version])
        con.register("_robustness", frame)
        con.execute(f"insert into {ROBUSTNESS_TABLE} by name select * from _robustness")
        con.unregister("_robustness")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
