"""``botsift score --check``: end-to-end parity of warehouse scores with scikit-learn.

Reads the snapshot the warehouse scored last, scores the same feature rows outside the
warehouse with the registered scikit-learn ensemble (skops file, verified against its
sha256), and compares probabilities and decisions row by row. Decisions within ``atol`` of a
threshold may fairly differ from scikit-learn's (float32 graph against float64), so they are
not compared with it; every stored decision, those included, must be the one its own stored
probability and the card's thresholds give.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from botsift.errors import BotsiftError
from botsift.export import threshold_ties
from botsift.project import connect_warehouse
from botsift.registry import sha256_file
from botsift.scoring import DECISIONS, check_feature_columns, decision_codes
from botsift.scoring_model import deployed_models

__all__ = ["ScoreCheck", "check_warehouse_scores"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoreCheck:
    """Outcome of comparing warehouse scores with scikit-learn on one snapshot."""

    as_of_date: str
    model_version: str
    n_rows: int
    max_abs_diff: float
    decision_mismatches: int
    ties: int
    passed: bool
    inconsistent_decisions: int = 0

    def as_dict(self) -> dict[str, object]:
        """Plain dict for printing or JSON."""
        return asdict(self)


def _load_sklearn(onnx_path: Path, card: dict):  # type: ignore[no-untyped-def]
    import skops.io as sio

    name = card.get("sklearn_file")
    if not name:
        raise BotsiftError(f"model {card.get('model_version')} has no scikit-learn file to check "
                           "against (trained before model.skops was kept): retrain it")
    path = onnx_path.parent / name
    if not path.is_file():
        raise BotsiftError(f"{path} is missing: restore the artifacts folder")
    if sha256_file(path) != card["sklearn_sha256"]:
        raise BotsiftError(f"{path} does not match the sha256 in its model card: the file was changed")
    data = path.read_bytes()
    # integrity is established by the sha256 recorded at training, so the types it holds
    # are the ones training wrote
    return sio.loads(data, trusted=sio.get_untrusted_types(data=data))


def check_warehouse_scores(warehouse: Path, *, atol: float = 1e-5) -> ScoreCheck:
    """Compare the active model's latest warehouse scores with scikit-learn's.

    The latest date the active version scored, as active or (before its promotion) as shadow.

    Raises
    ------
    BotsiftError
        If ``atol`` is negative, there is nothing to check (no registry, no active model, no
        scores) or a model file fails its sha256.
    """
    if not atol >= 0:
        raise BotsiftError(f"atol {atol:g} must be 0 or more (the largest allowed difference)")
    con = connect_warehouse(warehouse, read_only=True)
    try:
        try:
            models = con.execute(
                "select model_version, segment, onnx_path, card from registry.model_versions "
                "where status = 'active'").fetchall()
        except duckdb.CatalogException:
            raise BotsiftError("no model registry in this warehouse: train and promote a model") from None
        if not models:
            raise BotsiftError("no active model: promote one with `botsift models promote VERSION`")
        # the registry rows as scoring reads them: one active version, each row agreeing
        # with its card (the same one-line errors the build gives)
        deployed = deployed_models(con, statuses=("active",))
        version = models[0][0]
        try:
            as_of = con.execute(
                # any status: a shadow promoted since its last refresh wrote its scores as
                # 'shadow', with the same model and thresholds
                "select max(as_of_date) from marts.ml_bot_scores where model_version = ?",
                [version]).fetchall()[0][0]
        except duckdb.CatalogException:
            raise BotsiftError("marts.ml_bot_scores not found: run `dbt build` to score") from None
        if as_of is None:
            raise BotsiftError(f"model {version} has scored nothing yet: run `dbt build`")
        cards = {seg: json.loads(card) for _, seg, _, card in models}
        features = cards["global"]["features"]
        # a feature column dropped or retyped since scoring: one line, as the build says it
        columns = dict(con.execute(
            "select column_name, data_type from duckdb_columns() where schema_name = 'marts' "
            "and table_name = 'fct_account_features'").fetchall())
        for model in deployed:
            check_feature_columns(columns, model, "marts.fct_account_features")
            # the stored scores may match while the file the next build loads is gone or
            # changed, or the card's feature order no longer the graph's: load it as scoring does
            model.session()
        cols = ", ".join(f'f."{c}"' for c in features)
        frame: pd.DataFrame = con.execute(
            f"select f.account_id, f.region, {cols}, s.bot_probability, s.decision "
            "from marts.fct_account_features as f "
            "left join marts.ml_bot_scores as s on s.account_id = f.account_id "
            "and s.as_of_date = f.as_of_date and s.model_version = ? "
            "where f.as_of_date = ?", [version, as_of]).df()
        scored = con.execute("select count(*) from marts.ml_bot_scores "
                             "where model_version = ? and as_of_date = ?",
                             [version, as_of]).fetchall()[0][0]
    finally:
        con.close()
    if frame.empty:
        # an "ok" on no rows would check nothing
        raise BotsiftError(f"marts.fct_account_features holds no rows of {as_of}, the date "
                           f"{version} scored last: nothing to check (was the feature table "
                           "rebuilt without it? run `dbt build` to score its latest date)")
    unscored = int(frame["bot_probability"].isna().sum())
    if unscored:
        raise BotsiftError(f"{unscored} feature rows of {as_of} have no warehouse score from {version}")
    if scored != len(frame):
        raise BotsiftError(f"{scored - len(frame)} warehouse scores of {as_of} from {version} have "
                           "no feature row: the feature table changed after scoring; run "
                           "`dbt build` to score it again")
    x = frame[features].to_numpy(dtype=np.float32, na_value=np.nan)
    infinite = np.isinf(x)
    if infinite.any():
        # scikit-learn refuses infinity; the mart's SQL divides safely, so none should be there
        cols = ", ".join(features[j] for j in np.flatnonzero(infinite.any(axis=0)))
        raise BotsiftError(f"{int(infinite.any(axis=1).sum())} feature rows of {as_of} hold an "
                           f"infinite value ({cols}): scikit-learn cannot re-score them; "
                           "fct_account_features' SQL writes none, so find what wrote them")
    expected = np.empty(len(frame))
    action = np.empty(len(frame))
    review = np.empty(len(frame))
    rest = np.ones(len(frame), dtype=bool)
    region = frame["region"].to_numpy()
    for seg in sorted(cards, key=lambda s: s == "global"):
        onnx_path = Path(next(p for _, s, p, _ in models if s == seg))
        mask = rest if seg == "global" else (region == seg) & rest
        if not mask.any():
            continue
        est = _load_sklearn(onnx_path, cards[seg])
        proba = np.asarray(est.predict_proba(x[mask]))
        expected[mask] = proba[:, 1] if proba.ndim == 2 else proba
        action[mask] = cards[seg]["thresholds"]["action"]
        review[mask] = cards[seg]["thresholds"]["review"]
        rest &= ~mask
    got = frame["bot_probability"].to_numpy(dtype=np.float64)
    diff = float(np.max(np.abs(got - expected))) if len(got) else 0.0
    near = threshold_ties(expected, action, atol) | threshold_ties(expected, review, atol)
    labels = np.asarray(DECISIONS, dtype=object)
    stored = frame["decision"].to_numpy(dtype=object)
    mismatches = int(((labels[decision_codes(expected, action, review)] != stored) & ~near).sum())
    # on a tie either decision could be right, but only the one its stored probability gives
    # (a threshold of exactly 1.0 puts every pure bot leaf on it: hundreds of rows)
    inconsistent = int((labels[decision_codes(got, action, review)] != stored).sum())
    result = ScoreCheck(str(as_of), version, len(frame), diff, mismatches, int(near.sum()),
                        passed=diff <= atol and mismatches == 0 and inconsistent == 0,
                        inconsistent_decisions=inconsistent)
    log.info("score check %s", result.as_dict())
    return result
