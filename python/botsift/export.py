"""ONNX export of a fitted ensemble, with the prior correction inside the graph, and parity.

The graph takes one float32 input ``input`` of shape ``[N, n_features]`` (manifest feature order,
NULL as NaN; imputation is inside the graph) and returns ``label`` (int64, ``p > 0.5``) and
``probabilities`` (float32 ``[N, 2]``, prior-corrected). skl2onnx converts the soft vote; a few
nodes appended after it rescale the odds: ``p' = k p / (k p + 1 - p)``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType

from botsift.errors import BotsiftError
from botsift.models import Ensemble, register_onnx_converters

__all__ = ["to_onnx", "onnx_probabilities", "Parity", "check_parity", "threshold_ties"]


def to_onnx(ensemble: Ensemble, n_features: int, metadata: dict[str, str] | None = None) -> bytes:
    """Convert ``ensemble`` to one ONNX graph whose probabilities are prior-corrected.

    Parameters
    ----------
    ensemble : Ensemble
    n_features : int
    metadata : dict, optional
        String key/values stored as the model's ``metadata_props`` (features, version).

    Returns
    -------
    bytes
        The serialized model.
    """
    register_onnx_converters()
    vc = ensemble.voting()
    # A fixed graph name: skl2onnx's default is a random uuid, so the same ensemble exported
    # twice gave different bytes (and sha256).
    model = convert_sklearn(vc, initial_types=[("input", FloatTensorType([None, n_features]))],
                            options={id(vc): {"zipmap": False}}, name="botsift_ensemble")
    g = model.graph
    # Rename the vote's outputs; the corrected ones take the public names.
    raw = {"label": "vote_label", "probabilities": "vote_probabilities"}
    for node in g.node:
        node.input[:] = [raw.get(i, i) for i in node.input]
        node.output[:] = [raw.get(o, o) for o in node.output]
    k = float(ensemble.odds_factor)
    g.initializer.extend([
        helper.make_tensor("prior_k", TensorProto.FLOAT, [], [k]),
        helper.make_tensor("prior_one", TensorProto.FLOAT, [], [1.0]),
        helper.make_tensor("prior_half", TensorProto.FLOAT, [], [0.5]),
        helper.make_tensor("prior_start", TensorProto.INT64, [1], [1]),
        helper.make_tensor("prior_end", TensorProto.INT64, [1], [2]),
        helper.make_tensor("prior_axis", TensorProto.INT64, [1], [1]),
    ])
    g.node.extend([
        helper.make_node("Slice", ["vote_probabilities", "prior_start", "prior_end", "prior_axis"],
                         ["prior_p"], name="PriorSlice"),
        helper.make_node("Mul", ["prior_p", "prior_k"], ["prior_num"], name="PriorNum"),
        helper.make_node("Sub", ["prior_one", "prior_p"], ["prior_q"], name="PriorQ"),
        helper.make_node("Add", ["prior_num", "prior_q"], ["prior_den"], name="PriorDen"),
        helper.make_node("Div", ["prior_num", "prior_den"], ["prior_pc"], name="PriorCorrected"),
        helper.make_node("Sub", ["prior_one", "prior_pc"], ["prior_qc"], name="PriorComplement"),
        helper.make_node("Concat", ["prior_qc", "prior_pc"], ["probabilities"], axis=1,
                         name="PriorProbabilities"),
        helper.make_node("Greater", ["prior_pc", "prior_half"], ["prior_gt"], name="PriorGt"),
        helper.make_node("Cast", ["prior_gt"], ["prior_label2d"], to=TensorProto.INT64,
                         name="PriorCast"),
        helper.make_node("Squeeze", ["prior_label2d", "prior_axis"], ["label"],
                         name="PriorLabel"),
    ])
    _prune(g)
    model.metadata_props.extend(
        onnx.StringStringEntryProto(key=key, value=val)
        for key, val in {"prior_odds_factor": repr(k), **(metadata or {})}.items())
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _prune(g: onnx.GraphProto) -> None:
    """Drop nodes no graph output depends on (the vote's own label path)."""
    needed = {o.name for o in g.output}
    keep = []
    for node in reversed(g.node):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(i for i in node.input if i)
    keep.reverse()
    del g.node[:]
    g.node.extend(keep)
    used = {i for n in g.node for i in n.input}
    inits = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(inits)


def onnx_probabilities(onnx_bytes: bytes, X: np.ndarray) -> np.ndarray:
    """Positive-class probabilities from the ONNX graph (float32 input, 1 thread per op).

    One thread, as scoring runs it (:class:`botsift.scoring.DeployedModel`): a tree
    ensemble's sums are split across threads in another order with more of them, which moves
    scores by about 1e-6, enough to flip decisions on rows at a threshold chosen here.
    """
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(onnx_bytes, opts, providers=["CPUExecutionProvider"])
    _, proba = sess.run(["label", "probabilities"], {"input": np.ascontiguousarray(X, np.float32)})
    return np.asarray(proba[:, 1], dtype=np.float64)


@dataclass
class Parity:
    """Agreement of ONNX and scikit-learn scores on one split."""

    n_rows: int
    max_abs_diff: float
    tolerance: float
    decision_mismatches: dict[str, int]
    ties: dict[str, int]
    passed: bool

    def as_dict(self) -> dict[str, object]:
        """JSON-ready view (for the model card)."""
        return asdict(self)


def check_parity(sklearn_scores: np.ndarray, onnx_scores: np.ndarray,
                 thresholds: dict[str, float], *, tolerance: float = 1e-5) -> Parity:
    """Compare scores and ``score >= threshold`` decisions at each threshold.

    A row whose scikit-learn score lies within ``tolerance`` of a threshold is a tie (see
    :func:`threshold_ties`): counted, not a mismatch. Any other decision difference, or a
    score difference above ``tolerance``, fails parity.
    """
    s, o = np.asarray(sklearn_scores, np.float64), np.asarray(onnx_scores, np.float64)
    if s.shape != o.shape:
        raise BotsiftError(f"parity: {s.shape} scikit-learn scores vs {o.shape} ONNX scores")
    diff = float(np.max(np.abs(s - o))) if s.size else 0.0
    mism, ties = {}, {}
    for name, t in thresholds.items():
        tie = threshold_ties(s, t, tolerance)
        ties[name] = int(tie.sum())
        mism[name] = int((((s >= t) != (o >= t)) & ~tie).sum())
    ok = diff <= tolerance and not any(mism.values())
    return Parity(int(s.size), diff, tolerance, mism, ties, ok)


def threshold_ties(scores: np.ndarray, threshold: float | np.ndarray, tolerance: float) -> np.ndarray:
    """Rows whose reference score lies within ``tolerance`` of their threshold.

    Scores computed another way (the graph in float32, scikit-learn in float64) may differ
    by up to ``tolerance``, so on these rows either decision is right: thresholds are chosen
    on the graph's scores, and every row of a tree leaf sits exactly on the one it was
    chosen at, where the other computation puts about half of them below it.
    """
    return np.abs(np.asarray(scores, np.float64) - threshold) <= tolerance
