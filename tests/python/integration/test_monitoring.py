"""Monitoring marts end to end: fairness flags an injected regional bias and nothing without it;
score drift, performance and robustness on the same warehouses."""
from __future__ import annotations

import pytest
from sklearn.metrics import average_precision_score

from botsift.robustness import ROBUSTNESS_TABLE, run_robustness
from botsift.simulate import SimulationConfig
from conftest import FAST
from scored_warehouse import ScoredWarehouse, build_scored
from scored_warehouse import query_rows as _rows

pytestmark = pytest.mark.integration

# Large enough for a model worth measuring (8k accounts, more ops reviews than the default),
# small enough for a 2-core machine. The reviews are what carry the injected bias into the
# labels (reviewers wrongly suspend 40% of the biased region's humans they review): at a
# review share of 0.15 the flag hinged on which split one latam botnet fell in (the previous
# split rule flagged latam at z 27, the current one at z 1.9, under fairness_min_z 3), at
# 0.25 the other way round (z 0.7 and 21.8); at 0.35 both rules flag it (z 29.6 and 24.0) and
# neither flags a region of the unbiased run (largest z 2.2 and 0.6).
CONFIG = dict(n_accounts=8_000, days=14, seed=11, drift_day=None, review_share=0.35,
              bot_share=0.05)


@pytest.fixture(scope="module", params=["latam", None], ids=["biased_latam", "unbiased"])
def scenario(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[str | None, ScoredWarehouse]:
    bias = request.param
    tmp = tmp_path_factory.mktemp(f"fairness_{bias}")
    sw, _ = build_scored(tmp, SimulationConfig(**CONFIG, biased_region=bias),
                         dict(per_region=False, seed=0, **FAST), command="run")
    sw.dbt("test", "--select", "monitoring")
    return bias, sw


def test_fairness_flags_the_biased_region_only_when_bias_is_injected(scenario) -> None:
    bias, sw = scenario
    disparate = _rows(sw.wh, """select distinct segment_value from monitoring.mon_segment_fairness
        where segment_type = 'region' and is_disparate""")
    latest = _rows(sw.wh, """select segment_value, false_positive_rate_ratio, false_positive_rate_z
        from monitoring.mon_segment_fairness where segment_type = 'region'
        and as_of_date = (select max(as_of_date) from monitoring.mon_segment_fairness)
        order by segment_value""")
    assert len(latest) == 5, latest
    if bias is None:
        assert disparate == [], latest
    else:
        assert disparate == [(bias,)], latest
        ratio = dict((r[0], r[1]) for r in latest)[bias]
        assert ratio > 2, latest


def test_fairness_has_one_row_per_day_and_segment(scenario) -> None:
    _, sw = scenario
    days = _rows(sw.wh, "select count(distinct as_of_date) from marts.fct_bot_scores")[0][0]
    per_type = _rows(sw.wh, """select segment_type, count(distinct as_of_date),
        count(*) from monitoring.mon_segment_fairness group by 1 order by 1""")
    assert [t for t, _, _ in per_type] == ["account_age_band", "region", "signup_client"]
    assert all(d == days for _, d, _ in per_type)
    assert dict((t, n) for t, _, n in per_type)["region"] == 5 * days


def test_score_drift_and_performance_cover_every_scored_day(scenario) -> None:
    _, sw = scenario
    days = _rows(sw.wh, "select count(distinct as_of_date) from marts.fct_bot_scores")[0][0]
    drift = _rows(sw.wh, """select count(*), min(reference_source), max(reference_source),
        sum(case when flag_rate_change_1d is null then 1 else 0 end),
        max(abs(flag_rate - (review_rate + action_rate))) from monitoring.mon_score_drift""")
    assert drift[0][:4] == (days, "training_reference", "training_reference", 1)
    assert drift[0][4] < 1e-9
    perf = _rows(sw.wh, """select count(*), min(average_precision), max(average_precision),
        sum(count_labels) from monitoring.mon_model_performance""")
    assert perf[0][0] >= days - 1 and perf[0][3] > 0
    assert 0 <= perf[0][1] <= perf[0][2] <= 1


def test_average_precision_is_scikit_learns_on_the_judged_accounts(scenario) -> None:
    # The judged accounts of each day (its scores with an ops label in the window after it),
    # scored by scikit-learn: the mart's window sums must give the same figure. (How tied
    # scores count is pinned by the dbt unit test
    # mon_model_performance__tied_scores_share_one_threshold: this scenario's ties do not
    # straddle a bot and a human, the demo's do.)
    bias, sw = scenario
    if bias is not None:
        pytest.skip("one scenario is enough")
    window = 7  # dbt_project.yml performance_label_window_days
    judged = _rows(sw.wh, f"""select s.as_of_date, s.model_version, l.label, s.bot_probability
        from marts.fct_bot_scores s join marts.fct_account_labels l using (account_id)
        where l.label_source in ('ops_suspended', 'ops_cleared')
        and l.label_at >= s.as_of_date + interval 1 day
        and l.label_at < s.as_of_date + interval {window + 1} day""")
    days: dict[tuple, tuple[list[int], list[float]]] = {}
    for day, version, label, p in judged:
        ys, ps = days.setdefault((day, version), ([], []))
        ys.append(label)
        ps.append(p)
    mart = {(d, v): ap for d, v, ap in _rows(sw.wh, """select as_of_date, model_version,
        average_precision from monitoring.mon_model_performance""")}
    assert set(mart) == set(days)
    for key, (ys, ps) in days.items():
        if not any(ys):  # no bot judged that day: no precision to average
            assert mart[key] is None, key
            continue
        assert mart[key] == pytest.approx(average_precision_score(ys, ps), abs=1e-12), key


def test_robustness_writes_every_feature_and_perturbation(scenario) -> None:
    bias, sw = scenario
    if bias is not None:
        pytest.skip("one scenario is enough")
    results = run_robustness(sw.wh)
    rows = _rows(sw.wh, f"""select feature_kind, perturbation, count(*),
        max(action_flip_share), max(mean_abs_score_change) from {ROBUSTNESS_TABLE}
        group by all order by 1, 2""")
    kinds = {(k, p): n for k, p, n, _, _ in rows}
    assert set(kinds) <= {("binary", "flip"), ("integer", "+1"), ("integer", "-1"),
                          ("continuous", "+5%"), ("continuous", "-5%")}
    assert kinds[("integer", "+1")] == kinds[("integer", "-1")]
    assert sum(kinds.values()) == len(results)
    per_feature: dict[str, list[str]] = {}
    for r in results:
        per_feature.setdefault(r.feature, []).append(r.feature_kind)
    assert all(len(k) == (1 if k[0] == "binary" else 2) for k in per_feature.values())
    assert {"is_verified", "count_posts_7d", "night_post_ratio_30d"} <= set(per_feature)
    assert per_feature["is_verified"] == ["binary"]
    assert per_feature["night_post_ratio_30d"] == ["continuous", "continuous"]
    assert all(0 <= r.action_flip_share <= 1 and r.mean_abs_score_change >= 0 for r in results)
    assert max(r.mean_abs_score_change for r in results) > 0
