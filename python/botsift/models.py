"""Base models, their hyper-parameter search, and the soft-voting ensemble.

Every base model is fitted with :func:`botsift.prior.balanced_sample_weight` (class weighting
that also undoes down-sampling), so all of them share one prior and one prior correction.
Hyper-parameters are searched with grouped, stratified K-fold on the train split (a botnet's
accounts stay in one fold), scored by weighted average precision (PR AUC). Gradient boosting's
early-stopping hold-out, inside each of its fits, is whole groups as well.
"""
from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    VotingClassifier,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils import _safe_indexing, check_random_state

from botsift.errors import BotsiftError
from botsift.prior import balanced_sample_weight, correct_probability

__all__ = ["FAMILIES", "DEFAULT_FAMILIES", "DEFAULT_GRIDS", "SMALL_GRIDS", "build_estimator",
           "fit_estimator", "group_holdout", "TuningResult", "tune_family", "Ensemble",
           "tune_ensemble_weights", "simplex_grid"]

log = logging.getLogger(__name__)

FAMILIES = ("logistic_regression", "decision_tree", "hist_gradient_boosting", "random_forest")
DEFAULT_FAMILIES = ("logistic_regression", "decision_tree", "hist_gradient_boosting")

DEFAULT_GRIDS: dict[str, dict[str, list[Any]]] = {
    "logistic_regression": {"C": [0.01, 0.1, 1.0, 10.0]},
    "decision_tree": {"max_depth": [4, 6, 8, 10]},
    "hist_gradient_boosting": {"learning_rate": [0.1], "max_leaf_nodes": [15, 31]},
    "random_forest": {"max_depth": [8, 14], "max_features": ["sqrt"]},
}
"""Search grids small enough for ~150k rows on 2 cores in a few minutes."""

SMALL_GRIDS: dict[str, dict[str, list[Any]]] = {
    "logistic_regression": {"C": [0.1, 1.0]},
    "decision_tree": {"max_depth": [3, 5]},
    "hist_gradient_boosting": {"learning_rate": [0.1], "max_leaf_nodes": [15], "max_iter": [50]},
    "random_forest": {"max_depth": [6], "n_estimators": [20]},
}
"""Tiny grids for tests."""


def _group_majority(y: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(each row's group index, each group's row count, each group's majority label as bool)."""
    uniq, inv = np.unique(groups, return_inverse=True)
    size = np.bincount(inv, minlength=len(uniq))
    return inv, size, np.bincount(inv, weights=y, minlength=len(uniq)) / size >= 0.5


def group_holdout(y: np.ndarray, groups: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Rows of whole groups held out for early stopping, stratified by the groups' labels.

    Each group takes its majority label (as in :func:`cv_folds`). Within each label the groups
    are shuffled with ``seed`` and taken in that order until they hold about ``fraction`` of
    that label's rows (the group that crosses the mark is taken when that lands closer), so
    each class keeps its share of the hold-out whatever the group sizes. A label with a single
    group holds out nothing, so the fitted rows keep every class.

    Parameters
    ----------
    y : ndarray of shape (n_rows,)
        0/1 labels.
    groups : ndarray of shape (n_rows,)
        Group of each row (a botnet, or one account's snapshots).
    fraction : float
        Share of rows to hold out, in (0, 1).
    seed : int
        The only source of randomness: same seed, same rows.

    Returns
    -------
    ndarray of bool, shape (n_rows,)
        True for held-out rows.

    Raises
    ------
    ValueError
        If ``fraction`` is not in (0, 1) or the arrays differ in length.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    y, groups = np.asarray(y), np.asarray(groups)
    if len(y) != len(groups):
        raise ValueError(f"y has {len(y)} rows but groups has {len(groups)}")
    inv, size, g_label = _group_majority(y, groups)
    rng = np.random.default_rng(seed)
    held = np.zeros(len(size), dtype=bool)
    for label in (False, True):
        idx = np.nonzero(g_label == label)[0]
        if len(idx) < 2:
            continue
        idx = rng.permutation(idx)
        cum = np.cumsum(size[idx])
        target = fraction * cum[-1]
        k = int(np.searchsorted(cum, target))  # cum[k] >= target > cum[k - 1]
        take = k + 1 if k == 0 or cum[k] - target <= target - cum[k - 1] else k
        held[idx[:min(take, len(idx) - 1)]] = True
    return held[inv]


class WeightedHistGradientBoostingClassifier(HistGradientBoostingClassifier):
    """HistGradientBoostingClassifier with weight-free bins and a grouped early-stopping hold-out.

    With sample weights and fewer than 200k rows, scikit-learn 1.9 finds bin edges with one
    weighted-percentile call per bin and feature in Python (about 20 s for 40k rows x 30
    features, longer than the boosting). Bins are only candidate split points, so unweighted
    quantiles serve; the boosting itself still uses the weights. Converted to ONNX by the
    stock HistGradientBoostingClassifier converter (:func:`register_onnx_converters`).

    ``fit`` also takes ``groups``: with early stopping on, the hold-out that decides when to
    stop is then whole groups (:func:`group_holdout`) instead of scikit-learn's random rows.
    A row-wise hold-out puts a botnet's other accounts, near-duplicates of fitted rows, among
    the validation rows: the validation loss keeps falling with the training loss and boosting
    stops late.
    """

    def _bin_data(self, X, sample_weight, is_training_data):  # type: ignore[no-untyped-def]
        return super()._bin_data(X, None, is_training_data)

    def fit(self, X, y, sample_weight=None, *, groups=None,  # type: ignore[no-untyped-def,override]
            X_val=None, y_val=None, sample_weight_val=None):
        """Fit; with ``groups``, hold out whole groups for early stopping.

        Parameters
        ----------
        X, y, sample_weight, X_val, y_val, sample_weight_val
            As :meth:`HistGradientBoostingClassifier.fit`.
        groups : array-like of shape (n_samples,), optional
            Group of each row. Used only when early stopping is on, ``validation_fraction`` is
            set and no ``X_val`` is given: about ``validation_fraction`` of the rows, in whole
            groups stratified by label and drawn from ``random_state``, become ``X_val``.
            Without groups (each row its own group), scikit-learn's row-wise hold-out.

        Returns
        -------
        self
        """
        n = len(y)
        stopping = self.early_stopping is True or (self.early_stopping == "auto" and n > 10_000)
        if groups is None or X_val is not None or not stopping or self.validation_fraction is None:
            return super().fit(X, y, sample_weight, X_val=X_val, y_val=y_val,
                               sample_weight_val=sample_weight_val)
        vf = self.validation_fraction
        fraction = vf / n if isinstance(vf, int | np.integer) and vf > 1 else float(vf)
        rs = self.random_state
        seed = int(rs) if isinstance(rs, int | np.integer) else \
            int(check_random_state(rs).randint(np.iinfo(np.int32).max))
        held = group_holdout(np.asarray(y), np.asarray(groups), fraction, seed)
        if not held.any() or held.all():
            log.debug("too few groups for a grouped early-stopping hold-out: row-wise instead")
            return super().fit(X, y, sample_weight)
        fit_rows, val_rows = np.nonzero(~held)[0], np.nonzero(held)[0]
        y = np.asarray(y)
        sw = None if sample_weight is None else np.asarray(sample_weight)
        return super().fit(
            _safe_indexing(X, fit_rows), y[fit_rows],
            None if sw is None else sw[fit_rows],
            X_val=_safe_indexing(X, val_rows), y_val=y[val_rows],
            sample_weight_val=None if sw is None else sw[val_rows])


def register_onnx_converters() -> None:
    """Let skl2onnx convert :class:`WeightedHistGradientBoostingClassifier` like its parent."""
    from skl2onnx import get_model_alias
    from skl2onnx._parse import _parse_sklearn_classifier, update_registered_parser
    from skl2onnx._supported_operators import sklearn_operator_name_map

    cls = WeightedHistGradientBoostingClassifier
    if cls not in sklearn_operator_name_map:
        # Same alias: the parent's registered converter, shape calculator and options apply.
        sklearn_operator_name_map[cls] = get_model_alias(HistGradientBoostingClassifier)
        update_registered_parser(cls, _parse_sklearn_classifier)


def _imputer() -> SimpleImputer:
    # keep_empty_features: a feature that is NULL on every train row must keep its input slot.
    return SimpleImputer(strategy="median", keep_empty_features=True)


def build_estimator(family: str, params: dict[str, Any], seed: int) -> ClassifierMixin:
    """Return an unfitted estimator of ``family`` with ``params``; NULL inputs are imputed.

    Raises
    ------
    BotsiftError
        If ``family`` is unknown.
    """
    if family == "logistic_regression":
        return Pipeline([("impute", _imputer()), ("scale", StandardScaler()),
                         ("model", LogisticRegression(max_iter=2000, **params))])
    if family == "decision_tree":
        p = {"min_samples_leaf": 20, **params}
        return Pipeline([("impute", _imputer()),
                         ("model", DecisionTreeClassifier(random_state=seed, **p))])
    if family == "hist_gradient_boosting":
        # Handles NULL natively (and so does its ONNX export): no imputer.
        # Early stopping on a seeded 10% hold-out of the fit rows, whole groups when
        # fit_estimator is given them: most of the search time is boosting iterations that
        # no longer help.
        p = {"max_iter": 300, "l2_regularization": 1.0, "min_samples_leaf": 40,
             "early_stopping": True, "validation_fraction": 0.1, "n_iter_no_change": 20,
             **params}
        return WeightedHistGradientBoostingClassifier(random_state=seed, **p)
    if family == "random_forest":
        p = {"n_estimators": 100, "min_samples_leaf": 5, "n_jobs": -1, **params}
        return Pipeline([("impute", _imputer()),
                         ("model", RandomForestClassifier(random_state=seed, **p))])
    raise BotsiftError(f"unknown model family {family!r}; use one of {FAMILIES}")


def fit_estimator(est: ClassifierMixin, X: np.ndarray, y: np.ndarray,
                  sample_weight: np.ndarray, *, groups: np.ndarray | None = None) -> ClassifierMixin:
    """Fit ``est`` (a Pipeline or a bare estimator) with sample weights on its final step.

    ``groups`` (one per row) reaches the estimators that hold rows out inside ``fit``: the
    gradient boosting's early-stopping hold-out is then whole groups. Without them it is
    scikit-learn's row-wise one, right only where each row is its own group.
    """
    if isinstance(est, Pipeline):
        est.fit(X, y, **{f"{est.steps[-1][0]}__sample_weight": sample_weight})
    elif isinstance(est, WeightedHistGradientBoostingClassifier):
        est.fit(X, y, sample_weight=sample_weight, groups=groups)
    else:
        est.fit(X, y, sample_weight=sample_weight)
    return est


def _grid(spec: dict[str, list[Any]]) -> list[dict[str, Any]]:
    keys = sorted(spec)
    return [dict(zip(keys, vals, strict=True))
            for vals in itertools.product(*(spec[k] for k in keys))]


@dataclass
class TuningResult:
    """Outcome of one family's search: best parameters and every candidate's CV score."""

    family: str
    best_params: dict[str, Any]
    best_score: float
    scores: list[dict[str, Any]] = field(default_factory=list)


def cv_folds(y: np.ndarray, groups: np.ndarray, n_splits: int,
             seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Grouped, stratified folds: a group's rows share a fold; class shares stay close.

    Stratifies whole groups by their majority label (``StratifiedKFold`` over groups). Bot
    groups are botnets and humans are mostly their own group, so groups are label-homogeneous
    and this matches ``StratifiedGroupKFold``'s intent at a fraction of its cost (which grows
    with groups x folds in Python: seconds for 100k singleton groups).

    Raises
    ------
    BotsiftError
        If there are fewer positive groups than folds.
    """
    inv, size, is_bot_group = _group_majority(y, groups)
    g_label = is_bot_group.astype(int)
    if g_label.sum() < n_splits:
        raise BotsiftError(f"train split has {int(g_label.sum())} positive groups; "
                           f"{n_splits}-fold grouped CV needs at least {n_splits} (a group is a "
                           "labelled bot or botnet cluster: label more bots, or simulate more "
                           "accounts or days)")
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    fold_of_group = np.empty(len(size), dtype=int)
    for k, (_, te) in enumerate(cv.split(np.zeros(len(size)), g_label)):
        fold_of_group[te] = k
    fold = fold_of_group[inv]
    return [(np.nonzero(fold != k)[0], np.nonzero(fold == k)[0]) for k in range(n_splits)]


def tune_family(family: str, X: np.ndarray, y: np.ndarray, sampling_rate: np.ndarray,
                folds: Sequence[tuple[np.ndarray, np.ndarray]], grid: dict[str, list[Any]],
                *, seed: int, groups: np.ndarray | None = None,
                on_fit: Callable[[], None] | None = None) -> TuningResult:
    """Search ``grid`` for ``family`` over ``folds``; score = mean weighted average precision.

    Fold scores weight rows by ``1 / sampling_rate`` so that they estimate population PR AUC.
    ``groups`` (one per row of ``X``) go to each fit (:func:`fit_estimator`); None treats
    every row as its own group.
    """
    results: list[dict[str, Any]] = []
    for params in _grid(grid):
        fold_scores, fold_iters = [], []
        for tr, te in folds:
            est = build_estimator(family, params, seed)
            fit_estimator(est, X[tr], y[tr], balanced_sample_weight(y[tr], sampling_rate[tr]),
                          groups=None if groups is None else groups[tr])
            s = est.predict_proba(X[te])[:, 1]
            fold_scores.append(float(average_precision_score(
                y[te], s, sample_weight=1.0 / sampling_rate[te])))
            if hasattr(est, "n_iter_"):  # boosting: where early stopping stopped
                fold_iters.append(int(est.n_iter_))
            if on_fit is not None:
                on_fit()
        results.append({"params": params, "mean_ap": float(np.mean(fold_scores)),
                        "fold_ap": fold_scores})
        if fold_iters:
            results[-1]["fold_n_iter"] = fold_iters
        log.debug("%s %s: mean AP %.4f", family, params, results[-1]["mean_ap"])
    best = max(results, key=lambda r: r["mean_ap"])  # first of equals: grid order
    return TuningResult(family, best["params"], best["mean_ap"], results)


def n_grid_points(grid: dict[str, list[Any]]) -> int:
    """Number of candidates in ``grid``."""
    return len(_grid(grid))


def simplex_grid(k: int, step: float = 0.1) -> np.ndarray:
    """All weight vectors of length ``k`` on a grid of ``step`` that sum to 1."""
    m = round(1 / step)
    pts = [c for c in itertools.product(range(m + 1), repeat=k) if sum(c) == m]
    return np.array(pts, dtype=np.float64) / m


def tune_ensemble_weights(probas: np.ndarray, y: np.ndarray, weight: np.ndarray,
                          step: float = 0.1) -> tuple[np.ndarray, float]:
    """Soft-vote weights maximizing weighted average precision of the weighted mean.

    Parameters
    ----------
    probas : ndarray of shape (n_rows, n_models)
        Each base model's positive-class probability on validation rows.

    Returns
    -------
    weights, score
        The best weight vector (sums to 1) and its validation average precision.
    """
    best_w, best = None, -1.0
    for w in simplex_grid(probas.shape[1], step):
        s = float(average_precision_score(y, probas @ w, sample_weight=weight))
        if s > best + 1e-12:
            best_w, best = w, s
    assert best_w is not None
    return best_w, best


@dataclass
class Ensemble:
    """A soft vote of fitted base models followed by the prior correction.

    Zero-weight members are dropped so that the deployed graph does not compute them.
    """

    names: list[str]
    estimators: list[ClassifierMixin]
    weights: np.ndarray
    odds_factor: float

    def __post_init__(self) -> None:
        keep = [i for i, w in enumerate(self.weights) if w > 0]
        self.names = [self.names[i] for i in keep]
        self.estimators = [self.estimators[i] for i in keep]
        w = np.asarray([self.weights[i] for i in keep], dtype=np.float64)
        self.weights = w / w.sum()

    def voting(self) -> VotingClassifier:
        """The members as a prefit soft ``VotingClassifier`` (what goes to ONNX)."""
        named = list(zip(self.names, self.estimators, strict=True))
        # flatten_transform=False: skl2onnx does not convert the flattened variant.
        vc = VotingClassifier(named, voting="soft", weights=self.weights.copy(),
                              flatten_transform=False)
        vc.estimators_ = list(self.estimators)
        vc.named_estimators_ = dict(named)  # type: ignore[assignment]
        vc.le_ = LabelEncoder().fit(np.array([0, 1]))
        vc.classes_ = vc.le_.classes_
        return vc

    def raw_proba(self, X: np.ndarray) -> np.ndarray:
        """Soft-vote probability before prior correction (balanced-weight world)."""
        return self.voting().predict_proba(X)[:, 1]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Population probability of the positive class (prior-corrected)."""
        return correct_probability(self.raw_proba(X), self.odds_factor)
