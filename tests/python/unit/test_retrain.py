from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest

from botsift.errors import BotsiftError
from botsift.registry import (
    SegmentArtifact,
    list_versions,
    promote,
    register,
    retire,
    write_version,
)
from botsift.retrain import deployed_version, review_shadow, start_retrain


def _new(tmp_path, wh, version):
    card = {"segment": "global", "thresholds": {"action": 0.9, "review": 0.3}}
    register(wh, write_version(tmp_path / "artifacts", version,
                               {"global": SegmentArtifact(b"onnx-" + version.encode(), card, {})}))


def _outcomes(wh, shadow, recommendations, after=True, active="v1"):
    """A stand-in for the dbt-built mart: one row per day with the given recommendations."""
    con = duckdb.connect(str(wh))
    con.execute("create schema if not exists monitoring")
    con.execute("""create or replace table monitoring.mon_shadow_outcomes (
        as_of_date date, shadow_model_version varchar, active_model_version varchar,
        recommendation varchar, active_spam_fraction double, shadow_spam_fraction double,
        active_wrongly_blocked bigint, shadow_wrongly_blocked bigint, active_count_blocked bigint,
        shadow_count_blocked bigint, active_ops_minutes_saved bigint,
        shadow_ops_minutes_saved bigint, is_after_shadow_training boolean,
        active_estimated_spam_fraction double, shadow_estimated_spam_fraction double)""")
    for i, rec in enumerate(recommendations):
        gain = 0.1 if rec == "promote" else -0.1
        con.execute("insert into monitoring.mon_shadow_outcomes values (?, ?, ?, ?, 0.5, ?, "
                    "1, 1, 10, 12, 40, 48, ?, 0.5, ?)",
                    [date(2026, 10, 1) + timedelta(days=i), shadow, active, rec, 0.5 + gain, after,
                     0.5 + gain])
    con.close()


@pytest.fixture
def shadowed(tmp_path):
    wh = tmp_path / "wh.duckdb"
    _new(tmp_path, wh, "v1")
    _new(tmp_path, wh, "v2")
    promote(wh, "v1")
    promote(wh, "v2", to="shadow")
    return wh


def test_shadow_that_wins_most_days_is_promoted(shadowed):
    _outcomes(shadowed, "v2", ["promote", "do_not_promote", "promote", "insufficient_data"])
    review = review_shadow(shadowed, min_days=3)
    assert (review.decision, review.n_promote, review.n_do_not_promote) == ("promote", 2, 1)
    assert len(review.days) == 3  # insufficient_data days are not judged
    assert review.totals()["shadow_ops_minutes_saved"] == 3 * 48
    assert deployed_version(shadowed, "active") == "v2"
    assert deployed_version(shadowed, "shadow") is None
    assert {r["model_version"]: r["status"] for r in list_versions(shadowed)}["v1"] == "retired"


def test_shadow_that_does_not_win_is_retired_and_active_stays(shadowed):
    _outcomes(shadowed, "v2", ["promote", "do_not_promote", "do_not_promote"])
    review = review_shadow(shadowed, min_days=3)
    assert review.decision == "retire" and review.applied
    assert deployed_version(shadowed, "active") == "v1"
    assert {r["model_version"]: r["status"] for r in list_versions(shadowed)}["v2"] == "retired"


def test_too_few_days_after_training_keeps_the_shadow(shadowed):
    _outcomes(shadowed, "v2", ["promote"] * 5, after=False)
    review = review_shadow(shadowed, min_days=2)
    assert review.decision == "keep_shadow" and review.days == []
    assert deployed_version(shadowed, "shadow") == "v2"


def test_days_against_a_version_no_longer_active_are_not_judged(tmp_path, shadowed):
    # v3 was active while v2 shadowed it (v2 beat it every day); v3 was then rolled back to v1
    _new(tmp_path, shadowed, "v3")
    _outcomes(shadowed, "v2", ["promote"] * 4, active="v3")
    review = review_shadow(shadowed, min_days=3)
    assert (review.decision, review.days, review.other_active_days) == ("keep_shadow", [], 4)
    assert review.active_version == "v1" and deployed_version(shadowed, "shadow") == "v2"


def test_dry_run_changes_nothing(shadowed):
    _outcomes(shadowed, "v2", ["promote"] * 3)
    review = review_shadow(shadowed, min_days=3, apply=False)
    assert review.decision == "promote" and not review.applied
    assert deployed_version(shadowed, "shadow") == "v2"


def test_errors_say_what_to_do(tmp_path, shadowed):
    with pytest.raises(BotsiftError, match="run a refresh"):
        review_shadow(shadowed)
    with pytest.raises(BotsiftError, match="still in shadow"):
        start_retrain(shadowed, tmp_path, tmp_path / "artifacts", build=False, manifest={})
    retire(shadowed, "v2")
    with pytest.raises(BotsiftError, match="no model version is in shadow"):
        review_shadow(shadowed)
    with pytest.raises(BotsiftError, match="is active"):
        retire(shadowed, "v1")
    with pytest.raises(BotsiftError, match="retired already"):
        retire(shadowed, "v2")
    empty = tmp_path / "empty.duckdb"
    _new(tmp_path / "e", empty, "v9")
    with pytest.raises(BotsiftError, match="no active model"):
        start_retrain(empty, tmp_path, tmp_path / "artifacts", build=False, manifest={})
