"""Batch scoring with onnxruntime: the engine behind the ``ml_bot_scores`` dbt model.

Memory is bounded by the batch size: feature rows stream from DuckDB as Arrow record
batches, each batch becomes one float32 matrix (columns stacked with numpy, the cheap way),
is scored by every deployed model, and leaves as an Arrow batch that DuckDB writes.
"""
from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from botsift.errors import BotsiftError

__all__ = ["DeployedModel", "SCORE_SCHEMA", "check_feature_columns", "decide",
           "explain_top_features", "feature_matrix", "score_batches", "score_reader", "verify_model_file"]

log = logging.getLogger(__name__)

SCORE_SCHEMA = pa.schema([
    ("account_id", pa.int64()),
    ("as_of_date", pa.date32()),
    ("region", pa.string()),
    ("model_version", pa.string()),
    ("model_segment", pa.string()),
    ("deployment_status", pa.string()),
    ("bot_probability", pa.float64()),
    ("decision", pa.string()),
    ("top_features", pa.string()),
    ("scored_at", pa.timestamp("us")),
])

TOP_FEATURES = 3


@dataclass
class DeployedModel:
    """One registered model version as scoring needs it.

    Parameters
    ----------
    model_version, segment, status : str
        Registry identity: version id, ``"global"`` or a region, ``"active"`` or ``"shadow"``.
    onnx_path : Path
        The ONNX file; verified against ``onnx_sha256`` before it is loaded.
    features : list of str
        Input columns in the order the graph expects.
    feature_types : dict
        Column name to the warehouse type it had at training (``"DOUBLE"``...).
    action_threshold, review_threshold : float
        Decision thresholds from the model card.
    """

    model_version: str
    segment: str
    status: str
    onnx_path: Path
    onnx_sha256: str
    features: list[str]
    feature_types: dict[str, str]
    action_threshold: float
    review_threshold: float
    explain: dict | None = None
    _session: object = field(default=None, repr=False)

    def session(self):  # type: ignore[no-untyped-def]
        """Return the onnxruntime session, loading (and verifying) the file on first use."""
        if self._session is None:
            import onnxruntime as ort

            data = verify_model_file(self.onnx_path, self.onnx_sha256)
            opts = ort.SessionOptions()
            opts.log_severity_level = 3
            self._session = ort.InferenceSession(data, sess_options=opts,
                                                 providers=["CPUExecutionProvider"])
        return self._session

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Return P(bot) for a float32 matrix in feature order."""
        sess = self.session()
        name = sess.get_inputs()[0].name
        outputs = [o.name for o in sess.get_outputs()]
        prob_name = "probabilities" if "probabilities" in outputs else outputs[-1]
        probs = sess.run([prob_name], {name: matrix})[0]
        return np.asarray(probs[:, 1] if probs.ndim == 2 else probs, dtype=np.float64)


def explain_top_features(matrix: np.ndarray, explain: dict | None, features: Sequence[str],
                         rows: np.ndarray, k: int = TOP_FEATURES) -> list[str | None]:
    """Top contributing features per flagged row, from the logistic-regression terms.

    ``explain`` holds the fitted imputer fill values, scaler mean and scale and coefficients
    (in feature order); a term is ``coef * (x - mean) / scale`` in log-odds. Returns a JSON
    list of ``{"feature", "value", "contribution"}`` for each row in ``rows`` (None elsewhere).
    """
    out: list[str | None] = [None] * matrix.shape[0]
    if explain is None or not rows.any():
        return out
    fill = np.asarray(explain["impute"], dtype=np.float64)
    mean = np.asarray(explain["mean"], dtype=np.float64)
    scale = np.asarray(explain["scale"], dtype=np.float64)
    coef = np.asarray(explain["coef"], dtype=np.float64)
    idx = np.flatnonzero(rows)
    x = matrix[idx].astype(np.float64)
    x = np.where(np.isnan(x), fill, x)
    terms = coef * (x - mean) / np.where(scale == 0, 1.0, scale)
    top = np.argsort(-terms, axis=1)[:, :k]
    for r, i in enumerate(idx):
        out[i] = json.dumps([
            {"feature": features[j], "value": round(float(x[r, j]), 4),
             "contribution": round(float(terms[r, j]), 4)}
            for j in top[r] if terms[r, j] > 0])
    return out


def verify_model_file(path: Path, expected_sha256: str) -> bytes:
    """Read a model file and check it against its recorded sha256.

    Raises
    ------
    BotsiftError
        If the file is missing or its bytes do not match (tampered or corrupt).
    """
    path = Path(path)
    if not path.is_file():
        raise BotsiftError(f"model file {path} is missing: re-register the model or roll back")
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise BotsiftError(
            f"model file {path} does not match its recorded sha256 "
            f"(expected {expected_sha256[:12]}..., got {actual[:12]}...): the file was modified; "
            "restore it or roll back to another version"
        )
    return data


def check_feature_columns(columns: dict[str, str], model: DeployedModel, relation: str) -> None:
    """Check the feature relation has every model feature with its training type.

    Raises
    ------
    BotsiftError
        Naming the first missing or retyped column.
    """
    upper = {k: v.upper() for k, v in columns.items()}
    missing = [f for f in model.features if f not in upper]
    if missing:
        raise BotsiftError(
            f"feature column {missing[0]} is missing from {relation} "
            f"(model {model.model_version} needs {len(model.features)} features; "
            f"{len(missing)} missing)"
        )
    for name in model.features:
        want = model.feature_types.get(name, "").upper()
        if want and upper[name] != want:
            raise BotsiftError(
                f"feature column {name} in {relation} has type {upper[name]}, "
                f"but model {model.model_version} was trained on {want}"
            )


def feature_matrix(batch: pa.RecordBatch, features: Sequence[str]) -> np.ndarray:
    """Stack feature columns of an Arrow batch into one float32 matrix (nulls become NaN)."""
    n = batch.num_rows
    out = np.empty((n, len(features)), dtype=np.float32)
    for j, name in enumerate(features):
        col = batch.column(name)
        if col.null_count:
            out[:, j] = col.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
        else:
            out[:, j] = col.to_numpy(zero_copy_only=False)
    return out


def decide(prob: np.ndarray, action_threshold: float, review_threshold: float) -> np.ndarray:
    """Return 'action' / 'review' / 'none' per score."""
    out = np.full(prob.shape, "none", dtype=object)
    out[prob >= review_threshold] = "review"
    out[prob >= action_threshold] = "action"
    return out


def _route(models: Sequence[DeployedModel]) -> dict[str, dict[str, DeployedModel]]:
    by_status: dict[str, dict[str, DeployedModel]] = {}
    for m in models:
        by_status.setdefault(m.status, {})[m.segment] = m
    for status, segs in by_status.items():
        if "global" not in segs:
            raise BotsiftError(f"no global {status} model: per-region models need a global fallback")
    return by_status


def score_batches(batches: Iterator[pa.RecordBatch], models: Sequence[DeployedModel],
                  scored_at: datetime) -> Iterator[pa.RecordBatch]:
    """Score each feature batch with every deployed model; yield score batches.

    Each row is scored by its region's model when one is deployed for that status, else by
    the global model of that status.
    """
    routes = _route(models)
    features = models[0].features
    ts = pa.scalar(scored_at, type=pa.timestamp("us"))
    for batch in batches:
        n = batch.num_rows
        if n == 0:
            continue
        matrix = feature_matrix(batch, features)
        regions = batch.column("region").to_numpy(zero_copy_only=False)
        for status, segs in routes.items():
            prob = np.empty(n, dtype=np.float64)
            version = np.empty(n, dtype=object)
            segment = np.empty(n, dtype=object)
            decision = np.empty(n, dtype=object)
            reasons: list[str | None] = [None] * n
            rest = np.ones(n, dtype=bool)
            for seg, model in segs.items():
                if seg == "global":
                    continue
                mask = regions == seg
                if mask.any():
                    _fill(model, matrix, mask, prob, version, segment, decision, reasons, features)
                    rest &= ~mask
            if rest.any():
                _fill(segs["global"], matrix, rest, prob, version, segment, decision, reasons,
                      features)
            yield pa.RecordBatch.from_arrays([
                batch.column("account_id").cast(pa.int64()),
                batch.column("as_of_date").cast(pa.date32()),
                batch.column("region").cast(pa.string()),
                pa.array(version, type=pa.string()),
                pa.array(segment, type=pa.string()),
                pa.array(np.full(n, status, dtype=object), type=pa.string()),
                pa.array(prob, type=pa.float64()),
                pa.array(decision, type=pa.string()),
                pa.array(reasons, type=pa.string()),
                pa.array(np.full(n, ts.value, dtype="int64"), type=pa.timestamp("us")),
            ], schema=SCORE_SCHEMA)


def _fill(model: DeployedModel, matrix: np.ndarray, mask: np.ndarray, prob: np.ndarray,
          version: np.ndarray, segment: np.ndarray, decision: np.ndarray,
          reasons: list[str | None], features: Sequence[str]) -> None:
    if list(model.features) != list(features):
        raise BotsiftError(
            f"model {model.model_version} ({model.segment}) expects a different feature list "
            "than the other deployed models; retrain them together"
        )
    sub = matrix if mask.all() else matrix[mask]
    p = model.predict(sub)
    prob[mask] = p
    version[mask] = model.model_version
    segment[mask] = model.segment
    d = decide(p, model.action_threshold, model.review_threshold)
    decision[mask] = d
    if model.explain is not None:
        flagged = np.zeros(len(mask), dtype=bool)
        flagged[mask] = d != "none"
        for i, r in enumerate(explain_top_features(matrix, model.explain, features, flagged)):
            if r is not None:
                reasons[i] = r


def _prefetch(batches: Iterator[pa.RecordBatch], depth: int = 2) -> Iterator[pa.RecordBatch]:
    """Read the next batches on a thread while the current one is scored."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    sentinel = object()
    error: list[BaseException] = []

    def worker() -> None:
        try:
            for b in batches:
                q.put(b)
        except BaseException as exc:  # re-raised in the consumer
            error.append(exc)
        finally:
            q.put(sentinel)

    t = threading.Thread(target=worker, daemon=True, name="botsift-prefetch")
    t.start()
    while True:
        item = q.get()
        if item is sentinel:
            break
        yield item
    t.join()
    if error:
        raise error[0]


def score_reader(reader: pa.RecordBatchReader, models: Sequence[DeployedModel],
                 scored_at: datetime, *, prefetch: bool = True) -> pa.RecordBatchReader:
    """Wrap a feature batch reader into a lazily computed score batch reader."""
    source: Iterator[pa.RecordBatch] = iter(reader)
    if prefetch:
        source = _prefetch(source)
    return pa.RecordBatchReader.from_batches(SCORE_SCHEMA, score_batches(source, models, scored_at))
