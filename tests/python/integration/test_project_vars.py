"""Project vars out of range stop a run before any node, naming each var (macros/validate_vars.sql)."""
from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from botsift.errors import BotsiftError
from botsift.project import run_dbt

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]

BAD = {
    "split_train_share": 0.8, "split_validation_share": 0.25,
    "negative_sample_rate": 0, "score_batch_size": 0, "score_workers": -1, "max_accounts_per_identifier": 1,
    "drift_psi_threshold": "high", "imbalance_strategy": "smote", "drift_severity": "fatal",
    "positive_review_decisions": ["suspended_spam", "cleared"],
    "fairness_label_sources": ["ops_suspended", "rumour"], "monitoring_label_sources": [],
    "fairness_max_ratio": 0.9, "feature_as_of_date": "yesterday",
}
EXPECTED = [
    "split_train_share + split_validation_share = 1.05: must be below 1",
    "negative_sample_rate = 0: must be a number in (0, 1]",
    "score_batch_size = 0: must be a whole number >= 1",
    "score_workers = -1: must be a whole number >= 0",
    "max_accounts_per_identifier = 1: must be a whole number >= 2",
    "drift_psi_threshold = high: must be a number above 0",
    "imbalance_strategy = 'smote': use one of auto, none, class_weights, downsample_majority",
    "drift_severity = 'fatal': use one of warn, error",
    "positive_review_decisions and negative_review_decisions both hold cleared",
    "fairness_label_sources: rumour not in",
    "monitoring_label_sources = []: must be a non-empty list",
    "fairness_max_ratio = 0.9: must be at least 1",
    "feature_as_of_date = yesterday: must be null or a date YYYY-MM-DD",
]


def test_bad_vars_fail_the_run_before_any_node_naming_each(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    wh = tmp_path / "wh.duckdb"
    monkeypatch.setenv("BOTSIFT_WAREHOUSE", str(wh))
    with pytest.raises(BotsiftError) as info:
        run_dbt(["run", "--select", "stg_raw__quarantined_rows", "--vars", yaml.safe_dump(BAD),
                 "--target-path", str(tmp_path / "target")], ROOT, quiet=True)
    text = " ".join(str(info.value).split())
    assert "invalid project vars (dbt_project.yml or --vars)" in text
    for message in EXPECTED:
        assert message in text, message
    con = duckdb.connect(str(wh))  # nothing ran: not even the registry tables were created
    assert con.execute("select count(*) from duckdb_tables()").fetchall() == [(0,)]
    con.close()
