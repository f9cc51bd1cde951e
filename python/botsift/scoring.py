"""Batch scoring with onnxruntime: the engine behind the ``ml_bot_scores`` dbt model.

Memory is bounded by the batch size: feature rows stream from DuckDB as Arrow record
batches, each batch becomes one float32 matrix (columns stacked with numpy, the cheap way),
is scored by every deployed model, and leaves as an Arrow batch that DuckDB writes.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import threading
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from botsift.errors import BotsiftError
from botsift.explain import KIND as EXPLAIN_KIND
from botsift.explain import contributions, logistic_terms

__all__ = ["DeployedModel", "SCORE_SCHEMA", "check_feature_columns", "decide",
           "DECISIONS", "decision_codes", "default_workers", "explain_top_features", "feature_matrix",
           "feature_union", "score_batches", "score_reader", "verify_model_file"]

log = logging.getLogger(__name__)

# Low-cardinality text leaves as dictionary arrays (codes plus a few labels), which the
# ml_bot_scores model casts to DuckDB ENUMs; the probability as float32, the graphs' own
# output type (export converts every model with a float32 input and output), so no score
# loses a bit. fct_bot_scores exposes varchar and double.
_CODED = pa.dictionary(pa.int16(), pa.string())
SCORE_SCHEMA = pa.schema([
    ("account_id", pa.int64()),
    ("as_of_date", pa.date32()),
    ("region", pa.string()),
    ("model_version", _CODED),
    ("model_segment", _CODED),
    ("deployment_status", _CODED),
    ("bot_probability", pa.float32()),
    ("decision", _CODED),
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
    _io: tuple[str, str] = field(default=("", ""), repr=False)  # (input, probabilities) names

    def session(self):  # type: ignore[no-untyped-def]
        """Return the onnxruntime session, loading (and verifying) the file on first use."""
        if self._session is None:
            import onnxruntime as ort

            data = verify_model_file(self.onnx_path, self.onnx_sha256)
            opts = ort.SessionOptions()
            opts.log_severity_level = 3
            # One thread per run: score_batches runs whole batches in parallel instead, one
            # per core. Splitting each run across cores spent 2.63 core-seconds per 1M rows
            # of the tree ensemble against 2.07 on one thread (2 cores: 1.32 s per 1M rows
            # with two intra-op threads, 1.10 s with two batches at a time).
            opts.intra_op_num_threads = 1
            opts.inter_op_num_threads = 1
            # No spin-waiting between runs: a spinning thread holds a core while this process
            # fetches features, builds matrices and DuckDB writes scores.
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = ort.InferenceSession(data, sess_options=opts,
                                           providers=["CPUExecutionProvider"])
            kinds = {o.name: o.type for o in session.get_outputs()}
            prob_name = "probabilities" if "probabilities" in kinds else list(kinds)[-1]
            kind = kinds[prob_name]
            if kind != "tensor(float)":
                # the score table stores float32, exact only for a float32 graph output
                raise BotsiftError(
                    f"model file {self.onnx_path} outputs {kind} probabilities; scoring stores "
                    "float32 (botsift train exports float32 graphs): re-export it as float32")
            # the graph names its inputs' order (botsift train writes it), and the file is
            # sha256-checked: a card whose list was edited would feed columns in another order
            graph_features = session.get_modelmeta().custom_metadata_map.get("features")
            if graph_features is not None and graph_features.split(",") != list(self.features):
                raise BotsiftError(
                    f"registry row {self.model_version}/{self.segment}: its model card's feature "
                    f"list differs from the one {self.onnx_path.name} was trained on (the graph's "
                    "own, in its sha256-checked file): the registry was edited by hand; "
                    "re-register the version")
            self._io = (session.get_inputs()[0].name, prob_name)
            self._session = session
        return self._session

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Return P(bot) for a float32 matrix in feature order."""
        sess = self.session()
        name, prob_name = self._io
        probs = sess.run([prob_name], {name: matrix})[0]
        return np.asarray(probs[:, 1] if probs.ndim == 2 else probs, dtype=np.float64)


def explain_top_features(matrix: np.ndarray, explain: dict, features: Sequence[str],
                         k: int = TOP_FEATURES) -> pa.Array:
    """Top contributing features of each row, as JSON text.

    ``explain`` is the model card's: the deployed ensemble's per-feature contributions
    (:mod:`botsift.explain`, kind ``ensemble_path_contributions``: log-odds that add up to
    the row's score's log-odds minus the model's base score's), or, in cards written
    before the seventeenth session, the logistic-regression terms in log-odds (``impute``,
    ``mean``, ``scale``, ``coef``: a term is ``coef * (x - mean) / scale``).

    Returns, per row of ``matrix``, a JSON list of ``{"feature", "value", "contribution"}``
    for its ``k`` largest positive contributions, built with Arrow kernels (no per-row
    Python). A missing feature (NaN) shows ``"value": null``: the model saw it as missing
    (or as the training fill value), but the account has no value to show a reviewer. An
    infinite value or term shows as the JSON string ``"inf"`` (or ``"-inf"``).
    """
    raw = matrix.astype(np.float64)
    missing = np.isnan(raw)
    if explain.get("kind") == EXPLAIN_KIND:
        terms = contributions(matrix, explain)[0]
        shown = raw
    else:
        shown = np.where(missing, np.asarray(explain["impute"], dtype=np.float64), raw)
        terms = logistic_terms(shown, explain["mean"], explain["scale"], explain["coef"])
    top = np.argsort(-terms, axis=1)[:, :k]
    rows = np.arange(raw.shape[0])
    names = pa.array([json.dumps(f) for f in features], pa.string())
    # the positive terms are a prefix of the sorted ones: a row lists its first ``shown_n``.
    # No null reaches a join: pyarrow 26's binary_join_element_wise with
    # null_handling="skip" drops the rows whose inputs are all null (a shorter result), which
    # misaligned every later row's reasons when a flagged row had no positive term
    shown_n = (np.take_along_axis(terms, top, axis=1) > 0).sum(axis=1)
    prefixes: list[pa.Array] = []
    for j in range(top.shape[1]):
        col = top[:, j]
        value = pc.if_else(pa.array(missing[rows, col]), "null", _json_number(shown[rows, col]))
        item = pc.binary_join_element_wise(
            '{"feature": ', pc.take(names, pa.array(col)),
            ', "value": ', value,
            ', "contribution": ', _json_number(terms[rows, col]), "}", "")
        prefixes.append(item if not prefixes else pc.binary_join_element_wise(prefixes[-1], item, ", "))
    inner = pa.array(np.full(len(rows), ""), pa.string())
    for j, prefix in enumerate(prefixes, start=1):
        inner = pc.if_else(pa.array(shown_n == j), prefix, inner)
    return pc.binary_join_element_wise("[", inner, "]", "")


def _json_number(v: np.ndarray) -> pa.Array:
    """Numbers as JSON text, rounded to 4 places; JSON has no infinity, so +-inf is the string
    "inf" / "-inf" (a feature table written by hand can hold one; the mart's SQL divides safely)."""
    text = pc.cast(pa.array(np.round(v, 4)), pa.string())
    if np.isfinite(v).all():
        return text
    return pc.if_else(pa.array(np.isposinf(v)), '"inf"',
                      pc.if_else(pa.array(np.isneginf(v)), '"-inf"', text))


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


_MATRIX_BLOCK_ROWS = 1024


def feature_matrix(batch: pa.RecordBatch, features: Sequence[str]) -> np.ndarray:
    """Stack feature columns of an Arrow batch into one float32 matrix (nulls become NaN).

    The row-major matrix is filled in blocks of rows, every column per block: writing whole
    columns strides across the full matrix once per column and misses cache on each write
    (twice as slow at 131k rows x 44 features).
    """
    n = batch.num_rows
    out = np.empty((n, len(features)), dtype=np.float32)
    columns = [batch.column(name).to_numpy(zero_copy_only=False) for name in features]
    for start in range(0, n, _MATRIX_BLOCK_ROWS):
        stop = min(start + _MATRIX_BLOCK_ROWS, n)
        block = out[start:stop]
        for j, col in enumerate(columns):
            block[:, j] = col[start:stop]
    return out


DECISIONS = ("none", "review", "action")
_DECISION_DICT = pa.array(DECISIONS, type=pa.string())


def decision_codes(prob: np.ndarray, action_threshold: float | np.ndarray,
                   review_threshold: float | np.ndarray) -> np.ndarray:
    """Index into :data:`DECISIONS` per score: 0 none, 1 review (>= review), 2 action (>= action).

    A threshold may be one per row (an array as long as ``prob``)."""
    codes = (prob >= review_threshold).astype(np.int8)
    codes[prob >= action_threshold] = 2
    return codes


def decide(prob: np.ndarray, action_threshold: float, review_threshold: float) -> np.ndarray:
    """Return 'action' / 'review' / 'none' per score."""
    return np.asarray(DECISIONS, dtype=object)[decision_codes(prob, action_threshold, review_threshold)]


def _coded(codes: np.ndarray, labels: Sequence[str]) -> pa.Array:
    """A dictionary-encoded text column from integer codes (no Python objects per row)."""
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int16)), pa.array(list(labels), pa.string()))


def _scatter(n: int, rows: list[np.ndarray], texts: list[pa.Array]) -> pa.Array:
    """A string column of ``n`` nulls with ``texts`` placed at ``rows`` (a dictionary take)."""
    if not rows:
        return pa.nulls(n, pa.string())
    index = np.full(n, -1, dtype=np.int32)
    index[np.concatenate(rows)] = np.arange(sum(len(r) for r in rows), dtype=np.int32)
    return pa.DictionaryArray.from_arrays(
        pa.array(index, mask=index < 0), pa.concat_arrays(texts)).cast(pa.string())


def _route(models: Sequence[DeployedModel]) -> dict[str, dict[str, DeployedModel]]:
    by_status: dict[str, dict[str, DeployedModel]] = {}
    for m in models:
        by_status.setdefault(m.status, {})[m.segment] = m
    for status, segs in by_status.items():
        if "global" not in segs:
            raise BotsiftError(f"no global {status} model: per-region models need a global fallback")
    return by_status


def default_workers() -> int:
    """Batches scored at a time: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def feature_union(models: Sequence[DeployedModel]) -> list[str]:
    """Every deployed model's input columns, once each: the first model's, then the others'.

    Versions may differ (a shadow trained after a feature was added to the mart, or after
    training dropped one that was constant on its train split); each is scored on its own.
    """
    return list(dict.fromkeys(f for m in models for f in m.features))


def score_batches(batches: Iterator[pa.RecordBatch], models: Sequence[DeployedModel],
                  scored_at: datetime, *, workers: int | None = None,
                  dates: Mapping[str, Sequence[str]] | None = None) -> Iterator[pa.RecordBatch]:
    """Score each feature batch with every deployed model; yield score batches in input order.

    Each row is scored by its region's model when one is deployed for that status, else by
    the global model of that status, on that model's own feature list (``batches`` carry
    :func:`feature_union`). Text columns are built from integer codes, so the per-row Python
    work is limited to the explanations of flagged rows.

    ``workers`` batches (None or 0: one per core) are scored at a time on a thread pool, each
    on one onnxruntime thread; at most ``workers + 1`` batches are in flight, so memory stays
    bounded by the batch size.

    ``dates`` maps a model version to the as-of dates (ISO strings) it scores: its status
    scores only the rows of those dates (a new shadow backfills dates the active version
    does not re-score). A version not in it, or None, scores every row.

    Routing is checked and every model loaded (and verified) when this is called, before the
    first batch is read, so a deployment that cannot score fails at once.

    Raises
    ------
    BotsiftError
        If a status has per-region models and no global one, or a model file fails its sha256.
    """
    routes = _route(models)
    for m in models:
        m.session()  # load (and verify) before the workers share it
    ts = pa.scalar(scored_at, type=pa.timestamp("us")).value
    every = {d for ds in (dates or {}).values() for d in ds}

    def rows_of(version: str) -> np.ndarray | None:
        # None: every row the reader brings (the version scores the union of the dates)
        own = set((dates or {}).get(version, every))
        return None if own >= every else np.array(sorted(own), dtype="datetime64[D]")

    plan = [(status, [m for seg, m in segs.items() if seg != "global"] + [segs["global"]],
             rows_of(segs["global"].model_version))
            for status, segs in routes.items()]
    return _scored(batches, plan, ts, workers or default_workers())


def _scored(batches: Iterator[pa.RecordBatch], plan: list[_Plan],
            ts: int, workers: int) -> Iterator[pa.RecordBatch]:
    """The batches of :func:`score_batches`, ``workers`` at a time, in input order."""
    nonempty = (b for b in batches if b.num_rows)
    if workers == 1:
        for batch in nonempty:
            yield from _score_batch(batch, plan, ts)
        return
    pool = ThreadPoolExecutor(workers, thread_name_prefix="botsift-score")
    pending: deque[Future[list[pa.RecordBatch]]] = deque()
    try:
        for batch in nonempty:
            pending.append(pool.submit(_score_batch, batch, plan, ts))
            if len(pending) > workers:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


# (status, its models: regions first, global last, the as-of dates it scores or None for all)
_Plan = tuple[str, list[DeployedModel], np.ndarray | None]


def _score_batch(full: pa.RecordBatch, plan: list[_Plan], ts: int) -> list[pa.RecordBatch]:
    """One score batch per deployment status for one feature batch."""
    # one matrix per distinct (rows, feature list): every status scores every row unless a
    # status is limited to some dates (a shadow's backfill)
    matrices: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}
    out = []
    for status, ordered, only in plan:
        batch, rows_key = full, ""
        if only is not None:
            keep = np.isin(full.column("as_of_date").to_numpy(zero_copy_only=False).astype("datetime64[D]"), only)
            if not keep.any():
                continue
            if not keep.all():
                batch, rows_key = full.filter(pa.array(keep)), status
        n = batch.num_rows
        regions = batch.column("region")
        prob = np.empty(n, dtype=np.float32)
        model_idx = np.zeros(n, dtype=np.int16)
        decision = np.zeros(n, dtype=np.int8)
        reason_rows: list[np.ndarray] = []
        reason_texts: list[pa.Array] = []
        rest = np.ones(n, dtype=bool)
        for i, model in enumerate(ordered):
            # a null region (the export had none) is no region's: the global model scores it
            mask = rest if model.segment == "global" else (pc.fill_null(
                pc.equal(regions, model.segment), False).to_numpy(zero_copy_only=False) & rest)
            if not mask.any():
                continue
            key = (rows_key, tuple(model.features))
            if key not in matrices:
                matrices[key] = feature_matrix(batch, model.features)
            matrix = matrices[key]
            idx = np.flatnonzero(mask)
            # np.take of the routed rows: half the time of a boolean-mask copy (8 vs 4 ms per
            # 131k x 44 batch split three ways)
            sub = matrix if len(idx) == n else np.take(matrix, idx, axis=0)
            p = model.predict(sub)
            codes = decision_codes(p, model.action_threshold, model.review_threshold)
            prob[idx], model_idx[idx], decision[idx] = p, i, codes
            if model.explain is not None and codes.any():
                rows = idx[codes > 0]
                reason_rows.append(rows)
                reason_texts.append(explain_top_features(matrix[rows], model.explain, model.features))
            rest &= ~mask
        out.append(pa.RecordBatch.from_arrays([
            batch.column("account_id").cast(pa.int64()),
            batch.column("as_of_date").cast(pa.date32()),
            batch.column("region").cast(pa.string()),
            _coded(model_idx, [m.model_version for m in ordered]),
            _coded(model_idx, [m.segment for m in ordered]),
            _coded(np.zeros(n, dtype=np.int8), [status]),
            pa.array(prob, type=pa.float32()),
            _coded(decision, DECISIONS),
            _scatter(n, reason_rows, reason_texts),
            pa.array(np.full(n, ts, dtype="int64"), type=pa.timestamp("us")),
        ], schema=SCORE_SCHEMA))
    return out


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
                 scored_at: datetime, *, prefetch: bool = True,
                 workers: int | None = None,
                 dates: Mapping[str, Sequence[str]] | None = None) -> pa.RecordBatchReader:
    """Wrap a feature batch reader into a lazily computed score batch reader.

    With ``prefetch``, the next feature batches are read on a thread while the current ones
    are scored; ``workers`` and ``dates`` as in :func:`score_batches`.
    """
    source: Iterator[pa.RecordBatch] = iter(reader)
    if prefetch:
        source = _prefetch(source)
    return pa.RecordBatchReader.from_batches(
        SCORE_SCHEMA, score_batches(source, models, scored_at, workers=workers, dates=dates))
