"""The README's first command, small: `botsift demo` end to end, with its scheduled refresh."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def test_the_demo_refreshes_and_reports_what_monitoring_flagged(tmp_path: Path) -> None:
    env = {**os.environ, "BOTSIFT_EXPECTATIONS_DIR": str(tmp_path / "expectations"),
           "BOTSIFT_ARTIFACTS": str(tmp_path / "artifacts"),
           "DBT_TARGET_PATH": str(tmp_path / "target"), "COLUMNS": "300", "DO_NOT_TRACK": "1"}
    wh = tmp_path / "wh.duckdb"
    res = subprocess.run(
        [sys.executable, "-c", "from botsift.cli import app; app()", "demo", "--accounts", "5000",
         "--days", "10", "--refresh-days", "1", "--warehouse", str(wh)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=1200)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    assert "Traceback" not in out
    assert re.search(r"score check: max abs diff \d\.\de-\d\d, decision mismatches 0\n", out), out
    con = duckdb.connect(str(wh), read_only=True)
    try:
        dates = [str(d) for (d,) in con.execute(
            "select distinct as_of_date from marts.ml_bot_scores order by 1").fetchall()]
        drift = dict(con.execute(
            "select as_of_date::varchar, count(*) filter (where is_drifted) "
            "from monitoring.mon_feature_drift group by 1").fetchall())
        failed = dict(con.execute(
            "select as_of_date::varchar, count(*) filter (where not success) "
            "from monitoring.mon_feature_validation group by 1").fetchall())
        # the refresh's incremental Python models used to leave their temporary tables behind
        leftovers = con.execute("select table_name from duckdb_tables() "
                                "where table_name like '%dbt_tmp%'").fetchall()
    finally:
        con.close()
    assert leftovers == []
    # the refresh scored the new day (day 11), and the summary names each of the last two
    # scored dates with the marts' own counts
    assert dates[-1] == "2026-10-11", dates
    for day in dates[-2:]:
        line = next(ln for ln in out.splitlines() if ln.strip().startswith(day + ":"))
        assert f"features drifted (mon_feature_drift) {drift.get(day, 0)}" in line, line
        assert f"failed GX expectations (mon_feature_validation) {failed.get(day, 0)}" in line, line
    assert (tmp_path / "expectations" / "gx" / "uncommitted" / "data_docs" / "local_site"
            / "index.html").is_file()
