"""Per-feature separation report: bots vs humans, medians and univariate ROC AUC."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
from sklearn.metrics import roc_auc_score

from botsift.errors import BotsiftError
from botsift.manifest import FEATURE_MODEL, column_roles, load_manifest
from botsift.project import connect_warehouse

__all__ = ["FeatureSeparation", "feature_separation"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeatureSeparation:
    """How one feature separates bots from humans.

    ``roc_auc`` is the univariate ROC AUC of the raw feature (nulls as the median);
    ``separation`` is ``max(auc, 1 - auc)``, so 0.5 means none and 1.0 means perfect.
    """

    feature: str
    median_bots: float
    median_humans: float
    roc_auc: float
    separation: float
    null_share: float


def _separation(x: np.ndarray, y: np.ndarray, name: str) -> FeatureSeparation:
    nulls = np.isnan(x)
    filled = np.where(nulls, np.nanmedian(x) if (~nulls).any() else 0.0, x)
    auc = float(roc_auc_score(y, filled)) if len(np.unique(filled)) > 1 else 0.5
    med = lambda v: float(np.nanmedian(v)) if np.isfinite(v).any() else float("nan")  # noqa: E731
    return FeatureSeparation(name, med(x[y == 1]), med(x[y == 0]), auc, max(auc, 1 - auc),
                             float(nulls.mean()))


def feature_separation(warehouse: Path, root: Path, *, source: str = "labels") -> tuple[list[FeatureSeparation], int, int]:
    """Compute the separation of every declared feature.

    Parameters
    ----------
    warehouse : Path
        The DuckDB warehouse.
    root : Path
        The dbt project root (for the manifest's feature list).
    source : {"labels", "truth"}
        ``labels``: the labelled training examples (what a model learns from).
        ``truth``: every account's latest snapshot against the simulator's ground truth
        (only in simulated warehouses).

    Returns
    -------
    (list of FeatureSeparation, n_bots, n_humans)
    """
    features = column_roles(load_manifest(root), FEATURE_MODEL)["feature"]
    cols = ", ".join(f'cast(f."{c}" as double) as "{c}"' for c in features)
    if source == "labels":
        sql = f"select {cols}, label as y from marts.ml_training_examples as f"
    elif source == "truth":
        sql = (f"select {cols}, cast(t.is_bot as integer) as y from marts.fct_account_features as f "
               "join raw._simulation_truth as t using (account_id) "
               "where f.as_of_date = (select max(as_of_date) from marts.fct_account_features)")
    else:
        raise BotsiftError(f"unknown source {source!r}: use labels or truth")
    con = connect_warehouse(warehouse, read_only=True)
    try:
        data = con.sql(sql).fetchnumpy()
    except duckdb.CatalogException as exc:
        what = str(exc).splitlines()[0].removeprefix("Catalog Error: ").rstrip(".!")
        hint = ("--source truth needs a simulated warehouse" if "_simulation_truth" in what
                else "run `dbt build` first")
        raise BotsiftError(f"{warehouse}: {what}: {hint}") from None
    finally:
        con.close()
    data = {k: np.ma.filled(np.ma.asarray(v, dtype=np.float64), np.nan) for k, v in data.items()}
    y = data.pop("y").astype(int)
    if len(np.unique(y)) < 2:
        raise BotsiftError("need both bots and humans to compare features; found one class")
    out = [_separation(data[c], y, c) for c in features]
    out.sort(key=lambda s: -s.separation)
    return out, int(y.sum()), int((1 - y).sum())
