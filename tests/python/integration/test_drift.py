"""Drift end to end: simulate with the default drift onset (day 21), dbt build, build the
reference of a fake active model from the training period (days 11-17), rebuild the monitoring
models, and check that GX validation and mon_feature_drift flag drift on the drift days and
nothing on the stable days before it; and nothing at all without drift.

The registry is not on this branch yet, so the test writes an active row itself.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pytest

from botsift.drift import bin_shares, build_reference, js_divergence, load_reference_frame, psi
from botsift.manifest import column_roles
from botsift.project import dbt_env, run_dbt
from botsift.simulate import SimulationConfig, simulate_platform

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
START = date(2026, 10, 1)
DRIFT_DAY = SimulationConfig().drift_day  # the default onset
TRAINING_SNAPSHOT = START + timedelta(days=17)  # reference window: days 11-17
DAYS = 23  # snapshots up to drift day + 1
STABLE = [START + timedelta(days=d) for d in range(18, DRIFT_DAY)]
DRIFTING = [START + timedelta(days=d) for d in range(DRIFT_DAY, DAYS)]


def _env(tmp: Path) -> dict[str, str]:
    return {"BOTSIFT_WAREHOUSE": str(tmp / "wh.duckdb"),
            "BOTSIFT_EXPECTATIONS_DIR": str(tmp / "expectations"),
            "BOTSIFT_BUILD_DATA_DOCS": "true"}


def _dbt(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {**dbt_env(ROOT), **_env(tmp)}
    return subprocess.run([sys.executable, "-c", "from dbt.cli.main import cli; cli()", *args,
                           "--project-dir", str(ROOT), "--target-path", str(tmp / "target")],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)


def _scenario(tmp: Path, drift_day: int | None) -> dict[str, object]:
    wh = tmp / "wh.duckdb"
    simulate_platform(SimulationConfig(n_accounts=5_000, days=DAYS, seed=11,
                                       drift_day=drift_day), wh)
    old = {k: os.environ.get(k) for k in _env(tmp)}
    os.environ.update(_env(tmp))
    try:
        run_dbt(["build", "--exclude", "monitoring", "--target-path", str(tmp / "target")],
                ROOT, quiet=True)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    manifest = json.loads((tmp / "target" / "manifest.json").read_text())
    features = column_roles(manifest, "fct_account_features")["feature"]
    con = duckdb.connect(str(wh))
    ref = load_reference_frame(con, features, TRAINING_SNAPSHOT, days=7)
    build_reference(con, "v_test", features, ref, expectations_dir=tmp / "expectations")
    con.execute("insert into registry.model_versions values ('v_test', 'global', 'active', "
                "now(), now(), 'model.onnx', 'sha', 0.9, 0.5, null)")
    con.close()
    out = _dbt(["build", "--select", "monitoring"], tmp)
    assert out.returncode == 0, out.stdout[-3000:]
    return {"wh": wh, "ref": ref, "features": features, "build_output": out.stdout}


@pytest.fixture(scope="module")
def drifting(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    return _scenario(tmp_path_factory.mktemp("drifting"), DRIFT_DAY)


@pytest.fixture(scope="module")
def stable(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    return _scenario(tmp_path_factory.mktemp("stable"), None)


def _flags(wh: object) -> tuple[dict[date, set[str]], dict[date, set[str]]]:
    con = duckdb.connect(str(wh), read_only=True)
    gx_rows = con.sql("select as_of_date, feature from monitoring.mon_feature_validation "
                      "where not success").fetchall()
    psi_rows = con.sql("select as_of_date, feature from monitoring.mon_feature_drift "
                       "where is_drifted").fetchall()
    dates = {r[0] for r in con.sql("select distinct as_of_date from "
                                   "monitoring.mon_feature_drift").fetchall()}
    gx_dates = {r[0] for r in con.sql("select distinct as_of_date from "
                                      "monitoring.mon_feature_validation").fetchall()}
    assert dates == gx_dates == set(STABLE + DRIFTING)
    gx_flags: dict[date, set[str]] = {d: set() for d in dates}
    psi_flags: dict[date, set[str]] = {d: set() for d in dates}
    for d, f in gx_rows:
        gx_flags[d].add(f)
    for d, f in psi_rows:
        psi_flags[d].add(f)
    return gx_flags, psi_flags


def test_drift_is_flagged_within_two_days_and_not_before(drifting: dict[str, object]) -> None:
    gx_flags, psi_flags = _flags(drifting["wh"])
    for d in STABLE:
        assert gx_flags[d] == set(), f"GX flags a stable day {d}: {gx_flags[d]}"
        assert psi_flags[d] == set(), f"mon_feature_drift flags a stable day {d}: {psi_flags[d]}"
    gx_hit = set().union(*(gx_flags[d] for d in DRIFTING))
    psi_hit = set().union(*(psi_flags[d] for d in DRIFTING))
    # the drift wave is brand-new accounts: their age lies below every reference account's
    assert "account_age_days" in gx_hit and "account_age_days" in psi_hit
    assert "account_age_days" in gx_flags[DRIFTING[0]] | gx_flags[DRIFTING[1]]


def test_dbt_build_warns_naming_the_drifting_features(drifting: dict[str, object]) -> None:
    text = str(drifting["build_output"])
    assert "DRIFT in mon_feature_drift: account_age_days" in text
    assert "DRIFT in mon_feature_validation: account_age_days" in text
    assert "WARN" in text


def test_drift_severity_error_fails_dbt(drifting: dict[str, object]) -> None:
    tmp = Path(str(drifting["wh"])).parent
    out = _dbt(["test", "--select", "monitoring", "--vars", "{drift_severity: error}"], tmp)
    assert out.returncode != 0
    assert "DRIFT in mon_feature_drift: account_age_days" in out.stdout


def test_a_catch_up_build_tests_every_day_its_scoring_run_added(drifting: dict[str, object],
                                                                 tmp_path: Path) -> None:
    """Skipped refreshes, then one build: the drift test covers each day that build scored,
    not only the latest (a drift on an earlier day used to pass even with severity error)."""
    import shutil

    shutil.copytree(Path(str(drifting["wh"])).parent, tmp_path, dirs_exist_ok=True)
    day = STABLE[-1]  # before the drift wave: nothing flagged there so far
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute("update marts.fct_account_features set count_posts_7d = null where as_of_date = ?", [day])
    # the skipped refreshes never binned these days (the mart is incremental: a build bins its
    # last date again and the newer ones)
    con.execute("delete from monitoring.mon_feature_drift where as_of_date >= ?", [day])
    con.close()
    out = _dbt(["build", "--select", "mon_feature_drift", "--vars", "{drift_severity: error}"], tmp_path)
    assert f"count_posts_7d ({day})" not in out.stdout  # not a date this refresh scored
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    # the catch-up run scored the last three days at one scored_at
    for d in (day, *DRIFTING):
        con.execute("insert into marts.ml_bot_scores (account_id, as_of_date, scored_at) "
                    "values (1, ?, timestamp '2026-11-01 06:00')", [d])
    con.close()
    out = _dbt(["test", "--select", "mon_feature_drift", "--vars", "{drift_severity: error}"], tmp_path)
    assert out.returncode != 0 and f"count_posts_7d ({day})" in out.stdout, out.stdout[-2000:]


def test_sql_psi_and_js_match_numpy_on_the_reference_bins(drifting: dict[str, object]) -> None:
    con = duckdb.connect(str(drifting["wh"]), read_only=True)
    day = DRIFTING[0]
    for feature in ("account_age_days", "count_posts_7d"):
        bins = con.execute("select lower, upper from registry.feature_reference_bins where "
                           "feature = ? and bin_kind = 'regular' order by bin_index",
                           [feature]).fetchall()
        edges = np.array([b[0] for b in bins] + [bins[-1][1]])
        ref_shares = np.array([r[0] for r in con.execute(
            "select reference_share from registry.feature_reference_bins where feature = ? "
            "order by bin_index", [feature]).fetchall()])
        values = np.array([r[0] for r in con.execute(
            f"select cast({feature} as double) from marts.fct_account_features "
            "where as_of_date = ?", [day]).fetchall()], dtype=float)
        current = bin_shares(values, edges)
        got_psi, got_js = con.execute(
            "select psi, js_divergence from monitoring.mon_feature_drift where feature = ? "
            "and as_of_date = ?", [feature, day]).fetchall()[0]
        assert got_psi == pytest.approx(psi(ref_shares, current), rel=1e-9, abs=1e-12), feature
        assert got_js == pytest.approx(js_divergence(ref_shares, current), rel=1e-9, abs=1e-12), feature


def test_nothing_is_flagged_without_drift(stable: dict[str, object]) -> None:
    gx_flags, psi_flags = _flags(stable["wh"])
    assert all(not v for v in gx_flags.values()), gx_flags
    assert all(not v for v in psi_flags.values()), psi_flags
    assert "DRIFT in" not in str(stable["build_output"])


def test_data_docs_are_built(drifting: dict[str, object]) -> None:
    tmp = Path(str(drifting["wh"])).parent
    index = tmp / "expectations" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    assert index.is_file()
