"""Why the deployed ensemble scored an account as it did: per-feature contributions.

The review queue lists, for each flagged account, the features that pushed its bot
probability up most. They are contributions of the model that produced the score, the
card's ensemble, not of a stand-in: each member's score is split over the features, the
soft vote adds the members' splits with their weights, and the sum is carried into the
log-odds of the prior-corrected score, so an account's contributions add up to the log-odds
of its ``bot_probability`` minus those of the model's base score (an account at every
tree's root and at the logistic regression's feature means).

* trees (the decision tree, the gradient boosting's trees): the path an account takes from
  the root to its leaf; each split moves the tree's value from the node's to the child's,
  and that step is the split feature's (Saabas' path attribution). A tree's steps add up to
  its leaf value minus its root value.
* logistic regression: ``coef * (x - mean) / scale``, its log-odds terms.
* the gradient boosting and the logistic regression score in log-odds; their terms are
  scaled into the vote's probability by ``(p - p_base) / (z - z_base)``, the vote's into
  the final log-odds the same way: each scaling keeps the sum.

:func:`ensemble_payload` writes what scoring needs into the model card at training (JSON:
node arrays, imputer fill values, weights); :func:`contributions` computes them at scoring
for the flagged rows only. A random forest member (not among the default families) is too
large to carry in the card: a version with one has no explanations (``explain`` null).
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np

from botsift.prior import correct_probability

__all__ = ["KIND", "contributions", "ensemble_payload", "logistic_terms"]

log = logging.getLogger(__name__)

KIND = "ensemble_path_contributions"


def _sk_tree(est: Any) -> dict[str, list]:
    """A fitted scikit-learn decision tree: node arrays, value = P(class 1) at each node."""
    t = est.tree_
    v = np.asarray(t.value[:, 0, :], dtype=np.float64)
    total = v.sum(axis=1)
    p1 = np.divide(v[:, 1], total, out=np.zeros(len(v)), where=total > 0)
    return {"feature": [int(f) for f in t.feature], "threshold": [float(x) for x in t.threshold],
            "left": [int(i) for i in t.children_left], "right": [int(i) for i in t.children_right],
            "value": [float(x) for x in p1]}


def _hgb_tree(predictor: Any) -> dict[str, list]:
    """One gradient-boosting tree: node arrays; an inner node's value is its leaves' mean,
    weighted by training counts (only the leaves' values enter a prediction)."""
    nodes = predictor.nodes
    leaf = nodes["is_leaf"].astype(bool)
    left = np.where(leaf, -1, nodes["left"].astype(np.int64))
    right = np.where(leaf, -1, nodes["right"].astype(np.int64))
    value = nodes["value"].astype(np.float64).copy()
    count = nodes["count"].astype(np.float64)
    weight = count.copy()
    # children come after their parent in the predictor's arrays: fill inner nodes bottom-up
    for i in range(len(nodes) - 1, -1, -1):
        if not leaf[i]:
            a, b = left[i], right[i]
            if a <= i or b <= i:
                raise ValueError("gradient-boosting tree nodes are not in parent-first order")
            w = weight[a] + weight[b]
            value[i] = (value[a] * weight[a] + value[b] * weight[b]) / w if w > 0 else \
                (value[a] + value[b]) / 2
            weight[i] = w
    return {"feature": [int(f) if not lf else -2 for f, lf in zip(nodes["feature_idx"], leaf, strict=True)],
            "threshold": [float(x) for x in nodes["num_threshold"]],
            "left": [int(i) for i in left], "right": [int(i) for i in right],
            "value": [float(x) for x in value],
            "missing_left": [bool(m) for m in nodes["missing_go_to_left"]]}


def _member(name: str, est: Any, weight: float) -> dict[str, Any] | None:
    from sklearn.pipeline import Pipeline  # training side only: scoring does not import sklearn

    steps = dict(est.steps) if isinstance(est, Pipeline) else {}
    model = est.steps[-1][1] if isinstance(est, Pipeline) else est
    impute = steps.get("impute")
    fill = None if impute is None else [float(v) for v in impute.statistics_]
    if name == "logistic_regression":
        scale = steps.get("scale")
        if scale is None or not hasattr(model, "coef_"):
            return None
        return {"name": name, "weight": weight, "impute": fill,
                "mean": [float(v) for v in scale.mean_], "scale": [float(v) for v in scale.scale_],
                "coef": [float(v) for v in model.coef_[0]], "intercept": float(model.intercept_[0])}
    if name == "decision_tree" and hasattr(model, "tree_"):
        return {"name": name, "weight": weight, "impute": fill, "link": "probability",
                "offset": 0.0, "trees": [_sk_tree(model)]}
    if name == "hist_gradient_boosting" and hasattr(model, "_predictors"):
        if any(len(it) != 1 for it in model._predictors):
            return None
        return {"name": name, "weight": weight, "impute": fill, "link": "logit",
                "offset": float(np.ravel(model._baseline_prediction)[0]),
                "trees": [_hgb_tree(it[0]) for it in model._predictors]}
    return None


def ensemble_payload(names: list[str], estimators: list[Any], weights: np.ndarray,
                     odds_factor: float) -> dict[str, Any] | None:
    """What scoring needs to split an ensemble's score over the features (JSON-ready).

    None when a member cannot be explained (a random forest): scoring then writes no
    ``top_features`` for that version rather than reasons from a model it did not run.
    """
    members = []
    for name, est, w in zip(names, estimators, weights, strict=True):
        m = _member(name, est, float(w))
        if m is None:
            log.warning("no per-feature explanations for this version: the %s member cannot "
                        "be explained in the model card", name)
            return None
        members.append(m)
    return {"kind": KIND, "odds_factor": float(odds_factor), "members": members}


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def logistic_terms(x: np.ndarray, mean: Any, scale: Any, coef: Any) -> np.ndarray:
    """A logistic regression's log-odds terms ``coef * (x - mean) / scale`` (a zero scale as 1)."""
    scale = np.asarray(scale, dtype=np.float64)
    return np.asarray(coef, dtype=np.float64) * (x - np.asarray(mean, dtype=np.float64)) \
        / np.where(scale == 0, 1.0, scale)


def _prepared(payload: dict[str, Any], n_features: int) -> list[dict[str, Any]]:
    """The members ready to score ``n_features`` columns: fill values as arrays, each tree
    member's path graph and summed root values (built once per payload, kept in it)."""
    ready = payload.get("_ready")
    if ready is None:
        ready = []
        for m in payload["members"]:
            r = {k: v for k, v in m.items() if k != "trees"}
            if m.get("impute") is not None:
                r["impute"] = np.asarray(m["impute"], dtype=np.float64)
            if "trees" in m:
                r["session"] = _path_graph(m["trees"], n_features)
                r["root"] = float(sum(t["value"][0] for t in m["trees"]))
            ready.append(r)
        payload["_ready"] = ready  # scoring workers may both build it: same result
    return ready


def _path_graph(trees: list[dict[str, Any]], n_features: int) -> Any:
    """An onnxruntime session that sums, over ``trees``, each row's path steps per feature.

    Each leaf's path is fixed, so its steps per feature are too: they become the leaf's
    weights in an ONNX ``TreeEnsembleRegressor`` with one target per feature, and
    onnxruntime's tree kernel adds them up (for the 28k flagged rows of the 1M benchmark and
    its 96 trees: 0.16 s, against 0.98 s for a numpy walk of the trees). Thresholds are
    rounded down to float32, so a float32 input takes the branch it takes against the
    float64 threshold.
    """
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    nodes: dict[str, list] = {k: [] for k in ("treeids", "nodeids", "featureids", "values", "modes",
                                              "truenodeids", "falsenodeids", "missing")}
    targets: dict[str, list] = {k: [] for k in ("treeids", "nodeids", "ids", "weights")}
    for t_id, t in enumerate(trees):
        feature, thr, left, right, value = (t["feature"], t["threshold"], t["left"], t["right"], t["value"])
        missing = t.get("missing_left")
        for i in range(len(value)):
            leaf = left[i] < 0
            cut = np.float32(thr[i])
            if not leaf and cut > thr[i]:
                cut = np.nextafter(cut, np.float32(-np.inf))
            nodes["treeids"].append(t_id)
            nodes["nodeids"].append(i)
            nodes["featureids"].append(0 if leaf else int(feature[i]))
            nodes["values"].append(0.0 if leaf else float(cut))
            nodes["modes"].append("LEAF" if leaf else "BRANCH_LEQ")
            nodes["truenodeids"].append(0 if leaf else int(left[i]))
            nodes["falsenodeids"].append(0 if leaf else int(right[i]))
            nodes["missing"].append(int(bool(missing[i])) if missing is not None and not leaf else 0)
        stack: list[tuple[int, dict[int, float]]] = [(0, {})]
        while stack:
            i, path = stack.pop()
            if left[i] < 0:
                for f, w in path.items():
                    if w != 0.0:
                        targets["treeids"].append(t_id)
                        targets["nodeids"].append(i)
                        targets["ids"].append(f)
                        targets["weights"].append(w)
                continue
            f = int(feature[i])
            for child in (int(left[i]), int(right[i])):
                step = dict(path)
                step[f] = step.get(f, 0.0) + float(value[child] - value[i])
                stack.append((child, step))
    node = helper.make_node(
        "TreeEnsembleRegressor", ["X"], ["Y"], domain="ai.onnx.ml", n_targets=n_features,
        aggregate_function="SUM", post_transform="NONE", base_values=[0.0] * n_features,
        nodes_treeids=nodes["treeids"], nodes_nodeids=nodes["nodeids"],
        nodes_featureids=nodes["featureids"], nodes_values=nodes["values"],
        nodes_modes=nodes["modes"], nodes_truenodeids=nodes["truenodeids"],
        nodes_falsenodeids=nodes["falsenodeids"], nodes_missing_value_tracks_true=nodes["missing"],
        target_treeids=targets["treeids"], target_nodeids=targets["nodeids"],
        target_ids=targets["ids"], target_weights=targets["weights"])
    graph = helper.make_graph(
        [node], "botsift_path_contributions",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, n_features])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("ai.onnx.ml", 3)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # called from the scoring workers, one core each
    return ort.InferenceSession(model.SerializeToString(), sess_options=opts,
                                providers=["CPUExecutionProvider"])


def _paths(x: np.ndarray, member: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, float]:
    """Sum over the member's trees of each row's path steps per feature; the rows' summed
    leaf values (roots plus steps); the summed root values."""
    contrib = member["session"].run(None, {"X": np.ascontiguousarray(x, dtype=np.float32)})[0]
    contrib = contrib.astype(np.float64)
    return contrib, member["root"] + contrib.sum(axis=1), member["root"]


def _to_probability(terms: np.ndarray, z: np.ndarray, z0: float
                    ) -> tuple[np.ndarray, np.ndarray, float]:
    """Log-odds terms as probability points that add up to ``sigmoid(z) - sigmoid(z0)``."""
    p, p0 = _sigmoid(z), float(_sigmoid(np.asarray(z0)))
    dz = z - z0
    slope = np.divide(p - p0, dz, out=p * (1 - p), where=np.abs(dz) > 1e-12)
    return terms * slope[:, None], p, p0


def contributions(matrix: np.ndarray, payload: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-feature contributions of each row to the ensemble's bot probability.

    Parameters
    ----------
    matrix : numpy.ndarray
        Rows x features (the model card's order), float32 as scored; NaN = missing.
    payload : dict
        The card's ``explain`` (:func:`ensemble_payload`).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, float)
        Contributions in log-odds of the score (rows x features; a row's add up to the
        log-odds of its score minus those of the base), the ensemble's prior-corrected
        score of each row (the ONNX graph's, up to float32 rounding) and the base score.
    """
    n, n_features = matrix.shape
    raw = matrix.astype(np.float64)
    missing = np.isnan(raw)
    vote, vote0 = np.zeros(n), 0.0
    c_vote = np.zeros((n, n_features))
    for m in _prepared(payload, n_features):
        x = raw if m.get("impute") is None else np.where(missing, m["impute"], raw)
        w = m["weight"]
        if m["name"] == "logistic_regression":
            terms = logistic_terms(x, m["mean"], m["scale"], m["coef"])
            terms = np.where(np.isfinite(terms), terms, 0.0)
            c, p, p0 = _to_probability(terms, m["intercept"] + terms.sum(axis=1), m["intercept"])
        else:
            terms, z, z0 = _paths(x, m)
            if m["link"] == "logit":
                c, p, p0 = _to_probability(terms, z + m["offset"], z0 + m["offset"])
            else:
                c, p, p0 = terms, z, z0
        c_vote += w * c
        vote += w * p
        vote0 += w * p0
    k = payload["odds_factor"]
    final, final0 = correct_probability(vote, k), float(correct_probability(np.asarray(vote0), k))
    # into the score's log-odds (a probability-point share can exceed the score when other
    # features pull the other way; log-odds add up without bounds): odds k*v/(1-v)
    logit, logit0 = _logit(vote, k), float(_logit(np.asarray(vote0), k))
    d = vote - vote0
    slope = np.divide(logit - logit0, d, out=1.0 / np.clip(vote * (1 - vote), _EPS, None),
                      where=np.abs(d) > 1e-12)
    return c_vote * slope[:, None], final, final0


_EPS = 1e-12


def _logit(vote: np.ndarray, k: float) -> np.ndarray:
    """Log-odds of the prior-corrected score of a soft vote ``vote`` (odds ``k v / (1 - v)``),
    finite at 0 and 1."""
    v = np.clip(vote, _EPS, 1 - _EPS)
    return np.log(k) + np.log(v) - np.log1p(-v)
