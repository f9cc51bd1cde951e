"""Evaluate the model family on labelled account exports: k-fold CV and cross-dataset tests.

``botsift evaluate`` answers "how good is this on data nobody here generated?". It reads an
export through the account loader (the same mapping presets as ``botsift load-accounts``),
computes the account-metadata features, drops features that carry no information (all null
or constant), and runs

* stratified k-fold cross-validation within one dataset, or
* train on one dataset, test on another (the honest test of generalization),

for class-weighted logistic regression, a depth-tuned decision tree, a depth-4 tree (the
published baseline's setting), a random forest, histogram gradient boosting and a soft-voting
ensemble, each with and without the ``verified`` flag (a known shortcut in some sets).
Scores sit next to the published depth-4 tree baseline (Hays et al. 2023) where one exists.

Features come from one of two sources:

* ``warehouse``: the export is loaded into a temporary DuckDB warehouse and
  ``dbt build --select +fct_account_features`` builds the feature mart, so the evaluation uses
  the very SQL that scores production (the feature list is the mart's ``meta.role: feature``
  columns). Needs the staging layer in the project.
* ``python``: :func:`metadata_features` mirrors the mart's profile and counter features
  column for column (same names, same formulas), computed in pandas. It runs anywhere (no dbt)
  and, like the mart, ages each account at its own ``exported_at``; the accounts staging
  would quarantine (:func:`staging_quarantine`) are left out, as they have no row in the
  mart. ``feature_set="extended"`` adds candidates the mart does not have.
"""
from __future__ import annotations

import contextlib
import csv
import json
import logging
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    VotingClassifier,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from botsift.accounts_loader import AccountMapping, parse_accounts
from botsift.errors import BotsiftError
from botsift.project import connect_warehouse

__all__ = [
    "METRICS",
    "MODELS",
    "EvaluationResult",
    "evaluate",
    "format_result",
    "informative_features",
    "metadata_features",
    "read_baseline",
    "staging_quarantine",
    "staging_vars",
]

log = logging.getLogger(__name__)

METRICS = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc")
MODELS = ("logistic", "tree_tuned", "tree_depth4", "random_forest", "hist_gb", "soft_vote")
VERIFIED = "is_verified"
MART_FEATURES = (
    "account_age_days", "count_followers", "count_following", "followers_following_ratio",
    "count_posts", "count_likes", "count_listed", "posts_per_day_of_age",
    "followers_per_day_of_age", "following_per_day_of_age", "likes_per_day_of_age",
    "has_default_profile_image", "is_verified", "has_profile_url", "bio_length",
    "screen_name_length", "display_name_length", "screen_name_digit_ratio",
)
"""The profile and counter features of ``fct_account_features`` (the ones an account export
can fill; the behavioural ones are null/zero without event tables), in the mart's order."""
EXTENDED_FEATURES = ("listed_per_day_of_age", "bio_has_url")
"""Candidates the mart does not carry (python features only)."""
_BASELINE_KEYS = {"accuracy": "a", "precision": "p", "recall": "r", "f1": "f",
                  "balanced_accuracy": "ba"}
_URL = re.compile(r"https?://|www\.", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------------------------
def _safe_divide(num: pd.Series, den: pd.Series) -> pd.Series:
    den = den.astype("float64")
    return (num.astype("float64") / den.where(den != 0)).astype("float64")


def metadata_features(accounts: pd.DataFrame, feature_set: str = "mart") -> pd.DataFrame:
    """Compute the account-metadata features from ``raw.accounts``-shaped rows.

    Mirrors ``int_accounts__profile`` and ``fct_account_features`` (names and formulas), with
    the as-of date of each account its own ``exported_at`` date.

    Parameters
    ----------
    accounts : DataFrame
        Columns of ``raw.accounts`` (``id``, ``created_at``, counters, text, flags, ``exported_at``).
    feature_set : {"mart", "extended"}
        ``mart``: the mart's profile/counter features; ``extended``: plus
        :data:`EXTENDED_FEATURES`, which the mart does not carry.

    Returns
    -------
    DataFrame
        Indexed by account id, one float column per feature (NaN where unknown).
    """
    if feature_set not in ("mart", "extended"):
        raise BotsiftError(f"feature_set must be mart or extended, not {feature_set!r}")
    a = accounts.set_index("id")
    created = pd.to_datetime(a["created_at"]).dt.normalize()
    as_of = pd.to_datetime(a["exported_at"]).dt.normalize()
    age = ((as_of - created).dt.days).astype("float64")
    followers = pd.to_numeric(a["followers_count"], errors="coerce").clip(lower=0).astype("float64")
    following = pd.to_numeric(a["friends_count"], errors="coerce").clip(lower=0).astype("float64")
    posts = pd.to_numeric(a["statuses_count"], errors="coerce").clip(lower=0).astype("float64")
    screen = a["screen_name"].astype("string")
    sn_len = screen.str.len().astype("float64")
    digits = screen.str.count(r"[0-9]").astype("float64")

    def flag(col: str) -> pd.Series:
        return a[col].astype("boolean").fillna(False).astype("float64")

    def counter(col: str) -> pd.Series:
        # unknown stays unknown (NaN), as in the mart's counter_at_as_of
        return pd.to_numeric(a[col], errors="coerce").clip(lower=0).astype("float64")

    likes, listed = counter("favourites_count"), counter("listed_count")
    url = a["url"].astype("string")
    f = pd.DataFrame(index=a.index)
    f["account_age_days"] = age
    f["count_followers"] = followers
    f["count_following"] = following
    f["followers_following_ratio"] = _safe_divide(followers, 1 + following)
    f["count_posts"] = posts
    f["count_likes"] = likes
    f["count_listed"] = listed
    f["posts_per_day_of_age"] = _safe_divide(posts, 1 + age)
    f["followers_per_day_of_age"] = _safe_divide(followers, 1 + age)
    f["following_per_day_of_age"] = _safe_divide(following, 1 + age)
    f["likes_per_day_of_age"] = _safe_divide(likes, 1 + age)
    f["has_default_profile_image"] = flag("default_profile_image")
    f["is_verified"] = flag("verified")
    f["has_profile_url"] = (url.notna() & (url != "")).astype("float64")
    f["bio_length"] = a["description"].astype("string").str.len().fillna(0).astype("float64")
    f["screen_name_length"] = sn_len.fillna(0)
    f["display_name_length"] = a["name"].astype("string").str.len().fillna(0).astype("float64")
    f["screen_name_digit_ratio"] = _safe_divide(digits, sn_len)
    if feature_set == "extended":
        f["listed_per_day_of_age"] = _safe_divide(listed, 1 + age)
        f["bio_has_url"] = a["description"].astype("string").fillna("").str.contains(
            _URL).astype("float64")
    return f


# The staging rules of base_platform__accounts, for the python path (which has no dbt): the
# text and counter columns it checks, and the defaults of the vars it reads
# (dbt_project.yml wins where the project is present; a unit test keeps the two equal).
_CHECKED_TEXT = ("region", "signup_ip", "signup_device", "signup_client", "screen_name", "name",
                 "description", "lang", "url")
_COUNTERS = ("followers_count", "friends_count", "statuses_count", "favourites_count",
             "listed_count")
# contains_invalid_text: U+FFFD or a C0 control character other than tab, newline, return
_INVALID_TEXT = "[\x00-\x08\x0b\x0c\x0e-\x1f\ufffd]"
STAGING_VAR_DEFAULTS: dict[str, Any] = {
    "platform_launched_at": "2006-01-01 00:00:00",
    "accepted_regions": ["na", "eu", "latam", "apac", "africa"],
    "accepted_signup_clients": ["android", "ios", "web", "api"],
}


def staging_vars() -> dict[str, Any]:
    """The vars the accounts' staging rules read: the project's ``dbt_project.yml`` values
    where the project is present (a user may have changed them), else the defaults."""
    import yaml  # type: ignore[import-untyped]

    from botsift.project import project_dir

    try:
        path = project_dir() / "dbt_project.yml"
    except BotsiftError:
        return dict(STAGING_VAR_DEFAULTS)
    try:
        project_vars = (yaml.safe_load(path.read_text()) or {}).get("vars") or {}
    except (OSError, yaml.YAMLError) as exc:
        raise BotsiftError(f"cannot read the staging vars from {path}: {exc}") from exc
    return {k: project_vars.get(k, v) for k, v in STAGING_VAR_DEFAULTS.items()}


def staging_quarantine(accounts: pd.DataFrame, *, variables: dict[str, Any] | None = None,
                       now: datetime | None = None) -> pd.Series:
    """The reason ``base_platform__accounts`` would quarantine each account row, or None.

    Mirrors the staging model's rules in its order (the first failed rule is the reason):
    ``null_id``, ``null_required`` (created_at), ``invalid_encoding`` (a checked text column
    holds U+FFFD or a forbidden control character), ``unknown_enum`` (region, then sign-up
    client, outside the accepted vars), ``negative_counter``, ``future_timestamp`` (created or
    exported after ``now``, UTC), ``pre_launch_timestamp`` (before
    ``platform_launched_at``) and ``created_after_export`` (which the loader quarantines
    first; mirrored all the same). A null value breaks no rule but the null ones, as in SQL. Rows
    come from :func:`botsift.accounts_loader.parse_accounts`, whose keys are unique, so
    staging's duplicate rule cannot apply.

    Parameters
    ----------
    accounts : DataFrame
        ``raw.accounts``-shaped rows.
    variables : dict, optional
        ``platform_launched_at``, ``accepted_regions``, ``accepted_signup_clients``
        (default: :func:`staging_vars`).
    now : datetime, optional
        Naive UTC "now" for the future rule (default: the current time).

    Returns
    -------
    Series
        Indexed like ``accounts``: the reason, or None for a row staging keeps.
    """
    v = variables or staging_vars()
    now = now or datetime.now(UTC).replace(tzinfo=None)
    launched = pd.Timestamp(v["platform_launched_at"])

    def column(name: str) -> pd.Series:
        return accounts[name] if name in accounts else pd.Series(None, index=accounts.index,
                                                                 dtype="object")

    def times(name: str) -> pd.Series:
        return pd.to_datetime(column(name))

    def outside(name: str, accepted: Sequence[str]) -> pd.Series:
        col = column(name)
        return col.notna() & ~col.isin(list(accepted))

    invalid = pd.Series(False, index=accounts.index)
    for name in _CHECKED_TEXT:
        invalid |= column(name).astype("string").str.contains(_INVALID_TEXT, regex=True).fillna(False).astype(bool)
    negative = pd.Series(False, index=accounts.index)
    for name in _COUNTERS:
        negative |= (pd.to_numeric(column(name), errors="coerce") < 0).fillna(False)
    created, exported = times("created_at"), times("exported_at")
    rules = [
        ("null_id", column("id").isna()),
        ("null_required", created.isna()),
        ("invalid_encoding", invalid),
        ("unknown_enum", outside("region", v["accepted_regions"])),
        ("unknown_enum", outside("signup_client", v["accepted_signup_clients"])),
        ("negative_counter", negative),
        ("future_timestamp", (created > now) | (exported > now)),
        ("pre_launch_timestamp", (created < launched) | (exported < launched)),
        ("created_after_export", exported < created),
    ]
    reason = np.select([cond.to_numpy(dtype=bool) for _, cond in rules],
                       [name for name, _ in rules], default="")
    out = pd.Series(reason, index=accounts.index, dtype="object")
    return out.where(out != "", None)


def informative_features(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """Return the columns that carry information: not all null and not constant.

    Parameters
    ----------
    frame : DataFrame
        The feature table (training rows).
    columns : sequence of str
        Candidate feature columns.

    Returns
    -------
    list of str
        The candidates with at least two distinct non-null values, in order.
    """
    return [c for c in columns if frame[c].dropna().nunique() > 1]


@dataclass
class LabelledFeatures:
    """Features and labels of one dataset."""

    name: str
    features: pd.DataFrame
    labels: pd.Series
    source: str
    load_lines: list[str] = field(default_factory=list)


def _python_features(name: str, paths: Sequence[Path], mapping: AccountMapping,
                     feature_set: str) -> LabelledFeatures:
    parsed = parse_accounts(paths, mapping)
    if not parsed.labels:
        raise BotsiftError(f"{name}: the export has no labels; evaluate needs a mapping with "
                           "a label section")
    accounts = pd.DataFrame(parsed.accounts)
    # what staging would quarantine has no feature row on the warehouse path either
    reasons = staging_quarantine(accounts)
    rejected = reasons.notna()
    feats = metadata_features(accounts[~rejected.to_numpy()], feature_set)
    labels = pd.Series({k: v[0] for k, v in parsed.labels.items()}, name="label")
    labels = labels[labels.index.isin(feats.index)]
    feats = feats.loc[labels.index]
    lines = [f"{name}: read {parsed.rows_read:,}, accounts {len(parsed.accounts):,}, "
             f"quarantined {len(parsed.quarantine):,}, collapsed {parsed.collapsed_duplicates:,}"]
    if rejected.any():
        counts = reasons[rejected].value_counts()
        lines.append(f"{name}: staging rules quarantined {int(rejected.sum()):,} accounts ("
                     + ", ".join(f"{r} {n:,}" for r, n in counts.items()) + ")")
    return LabelledFeatures(name, feats, labels.astype(int), "python", lines)


def _has_warehouse_project() -> bool:
    from botsift.project import project_dir

    try:
        return (project_dir() / "models" / "staging").is_dir()
    except BotsiftError:
        return False


def _warehouse_features(name: str, paths: Sequence[Path], mapping: AccountMapping,
                        workdir: Path) -> LabelledFeatures:
    """Load into a temporary warehouse and build the feature mart with dbt.

    dbt writes its target folder and logs under ``workdir``: an evaluation leaves the
    project's own ``target/`` (the manifest ``botsift train`` reads) and ``logs/`` alone.

    Rows come back ordered by account id: a parallel join returns them in any order, and the
    shuffled CV folds follow row order, so an unordered read changed the figures run to run.
    """
    import os

    from botsift.accounts_loader import load_accounts
    from botsift.manifest import FEATURE_MODEL, column_roles, load_manifest
    from botsift.project import project_dir, run_dbt

    root = project_dir()
    if not (root / "models" / "staging").is_dir():
        raise BotsiftError("the warehouse feature path needs the dbt staging layer "
                           "(models/staging), which this checkout lacks; use --features python")
    warehouse = workdir / f"{name}.duckdb"
    target = workdir / f"{name}-target"
    summary = load_accounts(paths, warehouse, mapping=mapping, replace=True)
    old = os.environ.get("BOTSIFT_WAREHOUSE")
    os.environ["BOTSIFT_WAREHOUSE"] = str(warehouse)
    try:
        # cautious: skip tests that also need models outside this selection (training marts)
        run_dbt(["build", "--select", f"+{FEATURE_MODEL}", "+fct_account_labels",
                 "--exclude", "test_type:unit", "--indirect-selection", "cautious",
                 "--target-path", str(target),
                 "--log-path", str(workdir / f"{name}-logs")],
                root, quiet=True)
    finally:
        if old is None:
            os.environ.pop("BOTSIFT_WAREHOUSE", None)
        else:
            os.environ["BOTSIFT_WAREHOUSE"] = old
    features = column_roles(load_manifest(root, target=target), FEATURE_MODEL)["feature"]
    con = connect_warehouse(warehouse, read_only=True)
    try:
        cols = ", ".join(f"f.{c}" for c in features)
        frame = con.execute(f"""
            select f.account_id, {cols}, l.label
            from marts.{FEATURE_MODEL} as f
            inner join marts.fct_account_labels as l
                on f.account_id = l.account_id
            where f.as_of_date = (select max(as_of_date) from marts.{FEATURE_MODEL})
                and l.label_source in ('ops_suspended', 'ops_cleared')
            order by f.account_id
        """).df()
    finally:
        con.close()
    frame = frame.set_index("account_id")
    feats = frame[features].astype("float64")
    return LabelledFeatures(name, feats, frame["label"].astype(int), "warehouse",
                            summary.lines())


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------
def _signed_log1p(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


_INNER_FOLDS = 3  # the tuned tree's depth search


def _models(seed: int, n_jobs: int) -> dict[str, Any]:
    impute = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
    logistic = make_pipeline(
        clone(impute), FunctionTransformer(_signed_log1p), StandardScaler(),
        LogisticRegression(class_weight="balanced", max_iter=5000, random_state=seed))
    tree_tuned = Pipeline([
        ("impute", clone(impute)),
        ("tree", GridSearchCV(
            DecisionTreeClassifier(class_weight="balanced", random_state=seed),
            {"max_depth": [2, 3, 4, 5, 6, 8, 10, 12], "min_samples_leaf": [1, 5, 20]},
            # single process: tree fits take milliseconds, worker start-up takes seconds
            cv=StratifiedKFold(_INNER_FOLDS, shuffle=True, random_state=seed), scoring="accuracy")),
    ])
    tree4 = make_pipeline(clone(impute), DecisionTreeClassifier(max_depth=4, random_state=seed))
    forest = make_pipeline(clone(impute), RandomForestClassifier(
        n_estimators=200, min_samples_leaf=1, class_weight="balanced_subsample",
        n_jobs=n_jobs, random_state=seed))
    # Early stopping ("auto": above 10,000 rows) keeps scikit-learn's row-wise hold-out on
    # purpose: these tables have one row per account and no cluster ids, so each row is its
    # own group and a random row is a whole group (training, where botnets and snapshots
    # span rows, holds out whole groups: botsift.models.group_holdout).
    hgb = HistGradientBoostingClassifier(class_weight="balanced", random_state=seed)
    vote = VotingClassifier(
        [("logistic", clone(logistic)), ("random_forest", clone(forest)), ("hist_gb", clone(hgb))],
        voting="soft")
    return {"logistic": logistic, "tree_tuned": tree_tuned, "tree_depth4": tree4,
            "random_forest": forest, "hist_gb": hgb, "soft_vote": vote}


def _scores(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    pred = (proba >= 0.5).astype(int)
    both = len(np.unique(y)) > 1
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "roc_auc": float(roc_auc_score(y, proba)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, proba)) if both else float("nan"),
    }


def _fit_predict(model: Any, x_train: np.ndarray, y_train: np.ndarray,
                 x_test: np.ndarray) -> np.ndarray:
    fitted = clone(model).fit(x_train, y_train)
    return np.asarray(fitted.predict_proba(x_test)[:, 1])


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------
@dataclass
class EvaluationResult:
    """Scores per variant (with/without verified) and model, plus the context to read them."""

    mode: str
    train: str
    test: str
    rows_train: int
    rows_test: int
    bot_share_train: float
    bot_share_test: float
    features: dict[str, list[str]]
    dropped_features: list[str]
    scores: dict[str, dict[str, dict[str, float]]]
    score_std: dict[str, dict[str, dict[str, float]]]
    baseline: dict[str, float] | None
    baseline_name: str | None
    feature_source: str
    folds: int
    seed: int
    created_at: str
    load_lines: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        """Serialise (NaN as null)."""
        def clean(o: Any) -> Any:
            if isinstance(o, float) and o != o:
                return None
            if isinstance(o, dict):
                return {k: clean(v) for k, v in o.items()}
            if isinstance(o, list):
                return [clean(v) for v in o]
            return o
        return json.dumps(clean(self.__dict__), indent=2, sort_keys=True)


def read_baseline(path: Path | None, name: str, depth: int = 4) -> dict[str, float] | None:
    """Read one dataset's published depth-``depth`` tree scores from the Hays 2023 CSV.

    Returns
    -------
    dict or None
        ``{accuracy, precision, recall, f1, balanced_accuracy}``; None when the file or the
        dataset row is absent.
    """
    if path is None or not Path(path).is_file():
        return None
    with Path(path).open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row.get("name") == name:
                out = {}
                for metric, key in _BASELINE_KEYS.items():
                    value = row.get(f"{key}{depth}")
                    if value:
                        out[metric] = float(value)
                return out or None
    return None


def evaluate(train_paths: Sequence[Path], train_mapping: AccountMapping, *,
             test_paths: Sequence[Path] | None = None,
             test_mapping: AccountMapping | None = None, folds: int = 5, seed: int = 0,
             feature_source: str = "auto", feature_set: str = "mart",
             baselines: Path | None = None, models: Sequence[str] = MODELS,
             workdir: Path | None = None, n_jobs: int = -1) -> EvaluationResult:
    """Cross-validate on one dataset, or train on one and test on another.

    Parameters
    ----------
    train_paths, train_mapping
        The (training) export and its mapping.
    test_paths, test_mapping
        A second export to test on; None for stratified k-fold CV on the first.
    folds : int
        Number of CV folds.
    seed : int
        Seeds the folds and every model.
    feature_source : {"auto", "python", "warehouse"}
        Where features come from (see the module docstring); ``auto`` is ``warehouse`` when
        the dbt project with its staging layer is at hand, else ``python``.
    feature_set : {"mart", "extended"}
        Python path only: the mart's features, or extended with extra counters.
    baselines : Path or None
        The Hays 2023 scores CSV; the depth-4 row of the test dataset is shown.
    models : sequence of str
        Subset of :data:`MODELS`.
    workdir : Path or None
        Where the warehouse path writes its temporary warehouses.
    n_jobs : int
        Parallel jobs for forests and grid search.

    Returns
    -------
    EvaluationResult

    Raises
    ------
    BotsiftError
        On bad arguments, unlabelled or single-class data.
    """
    unknown = set(models) - set(MODELS)
    if unknown:
        raise BotsiftError(f"unknown models {sorted(unknown)}; choose from {', '.join(MODELS)}")
    if folds < 2:
        raise BotsiftError("folds must be at least 2")

    if feature_source == "auto":
        feature_source = "warehouse" if _has_warehouse_project() else "python"
    if feature_source == "warehouse" and feature_set != "mart":
        raise BotsiftError("feature_set extended exists for python features only: the warehouse "
                           "path uses the mart's own feature list")

    if feature_source not in ("python", "warehouse"):
        raise BotsiftError(f"feature source must be python or warehouse, not {feature_source!r}")

    def features_of(paths: Sequence[Path], mapping: AccountMapping, base: Path | None
                    ) -> LabelledFeatures:
        if base is None:
            return _python_features(mapping.name, paths, mapping, feature_set)
        return _warehouse_features(mapping.name, paths, mapping, base)

    with contextlib.ExitStack() as stack:
        # the warehouse path's temporary warehouses and dbt targets go once read
        base = (None if feature_source == "python" else workdir or Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="botsift-eval-"))))
        train = features_of(train_paths, train_mapping, base)
        test = (features_of(test_paths, test_mapping or train_mapping, base)
                if test_paths else None)
    for ds in (train, test):
        if ds is not None and len(ds.labels) == 0:
            raise BotsiftError(
                f"{ds.name}: no labelled account has a feature row"
                + (" (imported labels are reviewed the day after the latest export, and staging "
                   "quarantines a review in the future: an export dated today can be evaluated "
                   "from tomorrow)" if ds.source == "warehouse" else ""))
        if ds is not None and ds.labels.nunique() < 2:
            raise BotsiftError(f"{ds.name}: needs both bots and humans, has one class only")
    counts = train.labels.value_counts()
    smaller = int(counts.min())
    if test is None and smaller < folds:
        raise BotsiftError(f"{train.name}: {folds} folds need at least {folds} bots and {folds} "
                           f"humans; it has {int(counts.get(1, 0))} bots and "
                           f"{int(counts.get(0, 0))} humans")
    # the tuned tree searches its depth with an inner 3-fold CV on each training set
    fitted_on = smaller - -(-smaller // folds) if test is None else smaller
    if "tree_tuned" in models and fitted_on < _INNER_FOLDS:
        raise BotsiftError(
            f"{train.name}: the tuned tree's inner {_INNER_FOLDS}-fold search needs at least "
            f"{_INNER_FOLDS} of each class in every training set; "
            + (f"with {folds} folds the smaller class ({smaller} rows) leaves {fitted_on}"
               if test is None else f"the smaller class has {smaller} rows"))
    candidates = list(train.features.columns)
    informative = informative_features(train.features, candidates)
    if test is not None:
        missing = [c for c in informative if c not in test.features.columns]
        informative = [c for c in informative_features(test.features, informative)
                       if c not in missing]
    dropped = [c for c in candidates if c not in informative]
    log.info("features carrying information: %s; dropped: %s", informative, dropped)
    variants = {"with_verified": informative,
                "without_verified": [c for c in informative if c != VERIFIED]}
    if VERIFIED not in informative:
        variants = {"without_verified": informative}
    zoo = _models(seed, n_jobs)
    scores: dict[str, dict[str, dict[str, float]]] = {}
    stds: dict[str, dict[str, dict[str, float]]] = {}
    y = train.labels.to_numpy()
    for variant, cols in variants.items():
        if not cols:
            raise BotsiftError(f"{train.name}: no feature carries information")
        x = train.features[cols].to_numpy(dtype="float64")
        scores[variant], stds[variant] = {}, {}
        for name in models:
            log.info("%s / %s / %s", train.name if test is None else f"{train.name}->{test.name}",
                     variant, name)
            if test is None:
                per_fold = []
                cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
                for tr, te in cv.split(x, y):
                    proba = _fit_predict(zoo[name], x[tr], y[tr], x[te])
                    per_fold.append(_scores(y[te], proba))
                scores[variant][name] = {m: float(np.mean([s[m] for s in per_fold])) for m in METRICS}
                stds[variant][name] = {m: float(np.std([s[m] for s in per_fold])) for m in METRICS}
            else:
                x_test = test.features[cols].to_numpy(dtype="float64")
                proba = _fit_predict(zoo[name], x, y, x_test)
                scores[variant][name] = _scores(test.labels.to_numpy(), proba)
                stds[variant][name] = {}
    target = test or train
    baseline = read_baseline(baselines, target.name)
    return EvaluationResult(
        mode="cv" if test is None else "cross",
        train=train.name, test=target.name,
        rows_train=len(train.labels), rows_test=len(target.labels),
        bot_share_train=float(train.labels.mean()), bot_share_test=float(target.labels.mean()),
        features=variants, dropped_features=dropped, scores=scores, score_std=stds,
        baseline=baseline if test is None else None,
        baseline_name=target.name if (baseline and test is None) else None,
        feature_source=train.source, folds=folds if test is None else 0, seed=seed,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        load_lines=train.load_lines + (test.load_lines if test else []),
    )


def format_result(result: EvaluationResult) -> list[str]:
    """Render a result as a Markdown table (one row per variant and model), plus context."""
    head = (f"{result.folds}-fold stratified CV on {result.train}" if result.mode == "cv"
            else f"train on {result.train}, test on {result.test}")
    lines = [f"## {head} ({result.feature_source} features, seed {result.seed})", "",
             f"train rows {result.rows_train:,} (bots {result.bot_share_train:.2f}), "
             f"test rows {result.rows_test:,} (bots {result.bot_share_test:.2f})",
             "dropped (no information): " + (", ".join(result.dropped_features) or "none"), ""]
    lines.append("| variant | model | " + " | ".join(METRICS) + " |")
    lines.append("|---|---|" + "---|" * len(METRICS))
    for variant, per_model in result.scores.items():
        for name, s in per_model.items():
            cells = []
            for m in METRICS:
                sd = result.score_std.get(variant, {}).get(name, {}).get(m)
                v = s[m]
                cells.append("n/a" if v != v else f"{v:.3f}" + (f" ±{sd:.3f}" if sd else ""))
            lines.append(f"| {variant} | {name} | " + " | ".join(cells) + " |")
    if result.baseline:
        cells = [f"{result.baseline[m]:.3f}" if m in result.baseline else "-" for m in METRICS]
        lines.append(f"| published | Hays 2023 tree depth 4 ({result.baseline_name}) | "
                     + " | ".join(cells) + " |")
    return lines
