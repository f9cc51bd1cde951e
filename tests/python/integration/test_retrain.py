"""The retraining loop end to end: a weak active model, `retrain` puts a new version in shadow,
refreshes compare them in mon_shadow_outcomes, `retrain --decide` leaves the better one active.

The active model is weak on purpose: trained early (before a new bot family appears) and only
on ops decisions. The retrained version sees the later labels, the new family included.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from botsift.registry import promote
from botsift.retrain import deployed_version, review_shadow, start_retrain
from botsift.simulate import SimulationConfig, extend_simulation, simulate_platform
from conftest import FAST
from scored_warehouse import ROOT, ScoredWarehouse
from scored_warehouse import query_rows as _rows

pytestmark = pytest.mark.integration

REFRESH = ("run", "--exclude", "mon_feature_validation")  # GX validation is tested elsewhere


def test_retrain_then_refreshes_end_with_the_better_model_active(tmp_path: Path) -> None:
    sw = ScoredWarehouse(tmp_path)
    simulate_platform(SimulationConfig(n_accounts=8_000, days=10, seed=5, drift_day=10,
                                       review_share=0.15, bot_share=0.05), sw.wh)
    sw.dbt("seed")
    sw.dbt("run", "--selector", "training")
    # weak on purpose: early, ops labels only, and a depth-2 tree alone
    weak = sw.train(per_region=False, seed=0, label_sources=["ops_suspended", "ops_cleared"],
                    **{**FAST, "families": ("decision_tree",),
                       "grids": {"decision_tree": {"max_depth": [2]}}})
    promote(sw.wh, weak.model_version, to="active", accept_unmet_target=True)  # weak on purpose
    sw.dbt(*REFRESH)
    extend_simulation(sw.wh, 4)  # the new bot family signs up
    sw.dbt(*REFRESH)

    sw.dbt("run", "--selector", "training")
    new = start_retrain(sw.wh, ROOT, sw.artifacts, build=False, manifest=sw.manifest(),
                        per_region=False, seed=0, expectations_dir=tmp_path / "expectations",
                        **FAST)
    assert deployed_version(sw.wh, "shadow") == new.model_version
    sw.dbt(*REFRESH)
    assert _rows(sw.wh, "select distinct model_version from monitoring.mon_feature_drift") == [
        (weak.model_version,)]  # drift is the active version's
    early = review_shadow(sw.wh, min_days=2)
    assert early.decision == "keep_shadow"  # backfilled days overlap its training data

    extend_simulation(sw.wh, 3)
    sw.dbt(*REFRESH)
    sw.dbt("test", "--select", "mon_shadow_outcomes")
    review = review_shadow(sw.wh, min_days=2)
    t = review.totals()
    assert review.decision == "promote", (review.days, t)
    # the weak tree blocks every young account, humans included: more raw spam fraction
    # (their posts count as prevented), far less once labelled precision discounts it
    assert t["shadow_estimated_spam_fraction"] > t["active_estimated_spam_fraction"]
    assert t["shadow_wrongly_blocked"] <= t["active_wrongly_blocked"]
    assert deployed_version(sw.wh, "active") == new.model_version
    assert deployed_version(sw.wh, "shadow") is None

    sw.dbt(*REFRESH)  # the next refresh scores with the new active model
    queue = _rows(sw.wh, "select distinct model_version from marts.fct_bot_review_queue")
    assert queue == [(new.model_version,)]
    # dbt-duckdb left each incremental Python model's temporary table behind, one per refresh
    assert _rows(sw.wh, "select table_name from duckdb_tables() "
                        "where table_name like '%dbt_tmp%'") == []
    # the incremental drift mart drops the old version's rows and bins every date after the
    # new version's reference window, not only the refresh's
    drift = _rows(sw.wh, "select model_version, count(distinct as_of_date) "
                         "from monitoring.mon_feature_drift group by all")
    after = _rows(sw.wh, f"""select count(distinct as_of_date) from marts.fct_account_features
        where as_of_date > (select max(reference_end_date) from registry.feature_reference
                            where model_version = '{new.model_version}')""")[0][0]
    assert after > 1 and drift == [(new.model_version, after)], (drift, after)

    # The marts over the score history are incremental. After these refreshes (a new shadow's
    # backfill, a promotion) each holds what a full rebuild computes: score drift reads only
    # scores, so every row; the label-based marts every date the last refresh computed again
    # (14 days before its last date on; older rows keep the labels known when they left it).
    marts = {"mon_score_drift": "1900-01-01", "mon_segment_fairness": None,
             "mon_model_performance": None, "mon_shadow_outcomes": None}
    last = _rows(sw.wh, "select max(as_of_date) from monitoring.mon_score_drift")[0][0]
    span = {m: since or str(last - timedelta(days=14)) for m, since in marts.items()}
    incremental = {m: _rounded(sw.wh, m, since) for m, since in span.items()}
    assert all(incremental.values()), {m: len(r) for m, r in incremental.items()}
    sw.dbt("run", "--select", *marts, "--full-refresh")
    for m, since in span.items():
        assert _rounded(sw.wh, m, since) == incremental[m], m


def _rounded(wh: Path, mart: str, since: str) -> list[tuple]:
    """A monitoring mart's rows from ``since`` on, sorted, floats to 9 places (sums of a
    different row order differ in the last bits)."""
    rows = _rows(wh, f"select * from monitoring.{mart} where as_of_date >= date '{since}' "
                     "order by all")
    return [tuple(round(v, 9) if isinstance(v, float) else v for v in r) for r in rows]
