"""The retraining loop: train on today's labels, shadow the new version, promote it on outcomes.

``botsift retrain`` (:func:`start_retrain`) rebuilds the training marts (new ops decisions
become labels), trains a version, registers it and promotes it to ``shadow``: every refresh
(``dbt build``) then scores it next to the active model and ``mon_shadow_outcomes`` compares
what enforcing each one's blocks would have done. ``botsift retrain --decide``
(:func:`review_shadow`) reads those days and promotes the shadow to active when it beat the
active model on most of them, retires it when it did not, and keeps it in shadow while fewer
than ``min_days`` days have been judged.

Only days after the shadow's training snapshot count: earlier days (the scoring backfill)
overlap the data it was trained on and would flatter it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from botsift import registry
from botsift.errors import BotsiftError
from botsift.project import connect_warehouse, run_dbt, table_exists
from botsift.train import TrainingResult, train_models

__all__ = ["SHADOW_OUTCOMES", "ShadowDay", "ShadowReview", "deployed_version", "review_shadow",
           "start_retrain"]

log = logging.getLogger(__name__)

SHADOW_OUTCOMES = "monitoring.mon_shadow_outcomes"
_DAY_COLUMNS = ("as_of_date", "active_model_version", "recommendation", "active_spam_fraction",
                "shadow_spam_fraction", "active_wrongly_blocked", "shadow_wrongly_blocked",
                "active_count_blocked", "shadow_count_blocked", "active_ops_minutes_saved",
                "shadow_ops_minutes_saved", "active_estimated_spam_fraction",
                "shadow_estimated_spam_fraction")


@dataclass
class ShadowDay:
    """One judged day of ``mon_shadow_outcomes`` (see that model's column docs)."""

    as_of_date: date
    active_model_version: str
    recommendation: str
    active_spam_fraction: float
    shadow_spam_fraction: float
    active_wrongly_blocked: int
    shadow_wrongly_blocked: int
    active_count_blocked: int
    shadow_count_blocked: int
    active_ops_minutes_saved: int
    shadow_ops_minutes_saved: int
    active_estimated_spam_fraction: float
    shadow_estimated_spam_fraction: float


@dataclass
class ShadowReview:
    """What :func:`review_shadow` found and did.

    ``decision`` is ``promote`` (the shadow is now active), ``retire`` (it is retired) or
    ``keep_shadow`` (too few judged days yet; nothing changed). ``other_active_days`` counts
    the shadow's days that compared it with a version no longer active (before a rollback or
    a promotion); they are not judged.
    """

    shadow_version: str
    decision: str
    min_days: int
    days: list[ShadowDay] = field(default_factory=list)
    applied: bool = False
    active_version: str = ""
    other_active_days: int = 0

    @property
    def n_promote(self) -> int:
        """Judged days recommending promotion."""
        return sum(d.recommendation == "promote" for d in self.days)

    @property
    def n_do_not_promote(self) -> int:
        """Judged days recommending against promotion."""
        return sum(d.recommendation == "do_not_promote" for d in self.days)

    def totals(self) -> dict[str, Any]:
        """Sums and means over the judged days, active vs shadow."""
        n = max(len(self.days), 1)
        return {
            "days": len(self.days),
            "active_spam_fraction": sum(d.active_spam_fraction for d in self.days) / n,
            "shadow_spam_fraction": sum(d.shadow_spam_fraction for d in self.days) / n,
            "active_estimated_spam_fraction":
                sum(d.active_estimated_spam_fraction for d in self.days) / n,
            "shadow_estimated_spam_fraction":
                sum(d.shadow_estimated_spam_fraction for d in self.days) / n,
            "active_wrongly_blocked": sum(d.active_wrongly_blocked for d in self.days),
            "shadow_wrongly_blocked": sum(d.shadow_wrongly_blocked for d in self.days),
            "active_ops_minutes_saved": sum(d.active_ops_minutes_saved for d in self.days),
            "shadow_ops_minutes_saved": sum(d.shadow_ops_minutes_saved for d in self.days),
        }


def deployed_version(warehouse: Path, status: str) -> str | None:
    """The version whose global segment has ``status`` (active or shadow), or None."""
    rows = [r for r in registry.list_versions(warehouse)
            if r["segment"] == registry.GLOBAL_SEGMENT and r["status"] == status]
    return str(rows[0]["model_version"]) if rows else None


def start_retrain(warehouse: Path, root: Path, artifacts_dir: Path, *, build: bool = True,
                  manifest: dict | None = None, **train_kwargs: Any) -> TrainingResult:
    """Train a version on the current labels, register it and promote it to shadow.

    Parameters
    ----------
    warehouse : Path
        The DuckDB warehouse.
    root : Path
        The dbt project root.
    artifacts_dir : Path
        Where model versions are written.
    build : bool
        Run ``dbt build --selector training`` first, so ops decisions made since the last
        build become training labels.
    manifest : dict, optional
        The dbt manifest (column roles); read from ``root/target`` when not given.
    **train_kwargs
        Passed to :func:`botsift.train.train_models` (seed, targets, grids, ...).

    Returns
    -------
    TrainingResult
        The new version, now in shadow.

    Raises
    ------
    BotsiftError
        If no model is active (train and promote one first), a shadow is still under
        review, or training fails.
    """
    active = deployed_version(warehouse, "active")
    if active is None:
        raise BotsiftError("no active model to retrain against: train and promote a first "
                           "version (botsift train; botsift models promote VERSION)")
    shadow = deployed_version(warehouse, "shadow")
    if shadow is not None:
        raise BotsiftError(f"model version {shadow} is still in shadow: decide it first "
                           f"(botsift retrain --decide) or retire it (botsift models retire {shadow})")
    if build:
        run_dbt(["build", "--selector", "training"], root)
    if manifest is None:
        from botsift.manifest import load_manifest

        manifest = load_manifest(root)
    result = train_models(warehouse, manifest, artifacts_dir, **train_kwargs)
    registry.promote(warehouse, result.model_version, to="shadow")
    log.info("model version %s is in shadow next to %s: run refreshes (dbt build), then "
             "botsift retrain --decide", result.model_version, active)
    return result


def _judged_days(warehouse: Path, shadow: str, active: str) -> tuple[list[ShadowDay], int]:
    """The shadow's judged days against ``active``, and how many compared it with another."""
    con = connect_warehouse(warehouse, read_only=True)
    try:
        if not table_exists(con, "monitoring", "mon_shadow_outcomes"):
            raise BotsiftError(f"{SHADOW_OUTCOMES} does not exist: run a refresh (dbt build) so "
                               "the shadow is scored and compared")
        rows = con.execute(
            f"select {', '.join(_DAY_COLUMNS)} from {SHADOW_OUTCOMES} "
            "where shadow_model_version = ? and is_after_shadow_training "
            "and recommendation <> 'insufficient_data' order by as_of_date", [shadow]).fetchall()
    finally:
        con.close()
    days = [ShadowDay(*r) for r in rows]
    judged = [d for d in days if d.active_model_version == active]
    return judged, len(days) - len(judged)


def review_shadow(warehouse: Path, *, min_days: int = 3, apply: bool = True) -> ShadowReview:
    """Promote the shadow version if its shadow outcomes beat the active model's, else retire it.

    The judged days are the rows of ``mon_shadow_outcomes`` for the shadow after its training
    snapshot with a complete post window, against the version active now: days that compared
    it with a version since rolled back or replaced do not count (beating a version no longer
    in force says nothing about the one it would replace). With fewer than ``min_days`` of
    them the shadow stays; otherwise it is promoted to active when more days recommend ``promote`` than
    ``do_not_promote`` (the per-day criteria are the dbt vars ``shadow_*``), and retired
    otherwise.

    Parameters
    ----------
    warehouse : Path
        The DuckDB warehouse, refreshed (``dbt build``) since the shadow was promoted.
    min_days : int
        Judged days needed before deciding.
    apply : bool
        Change the registry; False only reports what would happen.

    Raises
    ------
    BotsiftError
        If no version is in shadow or none is active, or the monitoring mart is missing.
    """
    if min_days < 1:
        raise BotsiftError(f"min_days={min_days}: judge the shadow on at least 1 day")
    shadow = deployed_version(warehouse, "shadow")
    if shadow is None:
        raise BotsiftError("no model version is in shadow: start one with `botsift retrain`")
    active = deployed_version(warehouse, "active")
    if active is None:
        raise BotsiftError("no active model to judge the shadow against: promote one "
                           "(botsift models promote VERSION) or roll back")
    days, other = _judged_days(warehouse, shadow, active)
    review = ShadowReview(shadow, "keep_shadow", min_days, days, active_version=active,
                          other_active_days=other)
    if other:
        log.info("shadow %s: %d day(s) compared it with a version no longer active; only its "
                 "days against %s are judged", shadow, other, active)
    if len(days) < min_days:
        log.info("shadow %s: %d judged day(s) of %d needed; keeping it in shadow", shadow,
                 len(days), min_days)
        return review
    review.decision = "promote" if review.n_promote > review.n_do_not_promote else "retire"
    if apply:
        if review.decision == "promote":
            # its action threshold was judged on production outcomes (mon_shadow_outcomes
            # enforces each version's action decisions), which outranks a validation target
            registry.promote(warehouse, shadow, to="active", accept_unmet_target=True)
        else:
            registry.retire(warehouse, shadow, reason="shadow outcomes did not beat the active model")
        review.applied = True
    log.info("shadow %s: %d promote / %d do-not-promote days: %s", shadow, review.n_promote,
             review.n_do_not_promote, review.decision)
    return review
