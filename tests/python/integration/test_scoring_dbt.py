"""Scoring inside dbt: refresh, idempotence, interrupted refresh, failure modes, parity."""
from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from botsift.manifest import load_manifest
from botsift.project import dbt_env
from botsift.registry import promote
from botsift.score_check import check_warehouse_scores
from botsift.scoring_model import widen_coded_columns
from botsift.simulate import SimulationConfig, extend_simulation, simulate_platform
from botsift.train import train_models
from conftest import FAST
from scored_warehouse import query_rows as _rows

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
SCORE_COLUMNS = ("account_id, as_of_date, region, model_version, model_segment, deployment_status, "
                 "bot_probability, decision, top_features")


def dbt(args: list[str], wh: Path, artifacts: Path, target: Path, **extra_env: str) -> tuple[int, str]:
    """Run dbt in a subprocess on one warehouse; return (exit code, combined output)."""
    env = dbt_env(ROOT)
    env.update(BOTSIFT_WAREHOUSE=str(wh), BOTSIFT_ARTIFACTS=str(artifacts), **extra_env)
    out = subprocess.run([sys.executable, "-c", "from dbt.cli.main import cli; cli()", *args,
                          "--project-dir", str(ROOT), "--target-path", str(target)],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    return out.returncode, out.stdout + out.stderr


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small platform, built, trained, promoted and scored: the state before a refresh."""
    tmp = tmp_path_factory.mktemp("scoring")
    wh, artifacts, target = tmp / "wh.duckdb", tmp / "artifacts", tmp / "target"
    simulate_platform(SimulationConfig(n_accounts=3_000, days=10, seed=11, drift_day=None), wh)
    rc, out = dbt(["build", "--selector", "training"], wh, artifacts, target)
    assert rc == 0, out[-3000:]
    result = train_models(wh, load_manifest_at(target), artifacts, per_region=False, **FAST)
    promote(wh, result.model_version, to="active", accept_unmet_target=True)  # tiny simulation
    rc, out = dbt(["build"], wh, artifacts, target)
    assert rc == 0, out[-3000:]
    return {"tmp": tmp, "wh": wh, "artifacts": artifacts, "target": target,
            "version": Path(result.model_version)}


def load_manifest_at(target: Path) -> dict:
    shutil.copy(target / "manifest.json", target.parent / "manifest.json")
    tmp_root = target.parent / "project"
    (tmp_root / "target").mkdir(parents=True, exist_ok=True)
    shutil.copy(target / "manifest.json", tmp_root / "target" / "manifest.json")
    return load_manifest(tmp_root)


def _copy(scored: dict[str, Path], name: str) -> Path:
    dst = scored["tmp"] / f"{name}.duckdb"
    shutil.copy(scored["wh"], dst)
    return dst


def _scores(wh: Path) -> list[tuple]:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return con.execute(f"select {SCORE_COLUMNS} from marts.ml_bot_scores order by all").fetchall()
    finally:
        con.close()


def _latest_snapshot(wh: Path) -> tuple[object, object]:
    """The latest feature as-of date and how many accounts it has."""
    latest = _one(wh, "select max(as_of_date) from marts.fct_account_features")
    return latest, _one(wh, f"select count(*) from marts.fct_account_features where as_of_date = date '{latest}'")


def _one(wh: Path, sql: str) -> object:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return con.execute(sql).fetchall()[0][0]
    finally:
        con.close()


def test_refresh_scores_the_new_day_with_the_active_model(scored: dict[str, Path]) -> None:
    wh = _copy(scored, "refresh")
    before = _one(wh, "select max(as_of_date) from marts.ml_bot_scores")
    extend_simulation(wh, 1)
    rc, out = dbt(["build", "--selector", "refresh"], wh, scored["artifacts"], scored["target"])
    assert rc == 0, out[-3000:]
    after = _one(wh, "select max(as_of_date) from marts.ml_bot_scores")
    assert (after - before).days == 1
    n_new = _one(wh, f"select count(*) from marts.ml_bot_scores where as_of_date = date '{after}' "
                     f"and model_version = '{scored['version']}' and deployment_status = 'active'")
    n_accounts = _one(wh, f"select count(*) from marts.fct_account_features where as_of_date = date '{after}'")
    assert n_new == n_accounts > 0
    assert _one(wh, "select count(*) - count(distinct (account_id, as_of_date, model_version)) "
                    "from marts.ml_bot_scores") == 0


def test_rerun_adds_no_duplicates(scored: dict[str, Path]) -> None:
    wh = _copy(scored, "rerun")
    before = _scores(wh)
    rc, out = dbt(["build", "--select", "ml_bot_scores"], wh, scored["artifacts"], scored["target"])
    assert rc == 0, out[-3000:]
    assert _scores(wh) == before


def test_the_capped_target_scores_under_its_memory_limit(scored: dict[str, Path]) -> None:
    # the profile's duckdb_capped target: the same warehouse, DuckDB's memory_limit from
    # BOTSIFT_MEMORY_LIMIT; a refresh of the scoring selection under it leaves the same scores
    wh = _copy(scored, "capped")
    before = _scores(wh)
    rc, out = dbt(["build", "--selector", "scoring"], wh, scored["artifacts"], scored["target"],
                  BOTSIFT_TARGET="duckdb_capped", BOTSIFT_MEMORY_LIMIT="64MB")
    assert rc == 0, out[-3000:]
    assert _scores(wh) == before
    # the limit is applied: one DuckDB cannot read is refused by name
    rc, out = dbt(["build", "--selector", "scoring"], wh, scored["artifacts"], scored["target"],
                  BOTSIFT_TARGET="duckdb_capped", BOTSIFT_MEMORY_LIMIT="lots")
    assert rc != 0 and "Memory must have a number" in out, out[-3000:]


def test_bi_reads_every_view_under_another_name(scored: dict[str, Path]) -> None:
    """A BI tool attaches the warehouse under its own alias, or reads a renamed copy."""
    copy = _copy(scored, "bi_share")  # built as "wh", read as "bi_share" and as "bi"
    con = duckdb.connect()
    try:
        con.execute(f"attach '{copy}' as bi (read_only)")
        views = con.execute("select schema_name, view_name from duckdb_views() "
                            "where database_name = 'bi' and not internal").fetchall()
        assert ("marts", "fct_bot_scores") in views and len(views) > 5
        for schema, view in views:  # a three-part name inside a view fails to bind here
            con.execute(f'select count(*) from bi."{schema}"."{view}"').fetchall()
        n = con.execute("select count(*) from bi.marts.fct_bot_scores").fetchall()[0][0]
    finally:
        con.close()
    assert n == _one(scored["wh"], "select count(*) from marts.ml_bot_scores") > 0
    assert _one(copy, "select count(*) from marts.fct_bot_scores") == n


def test_refresh_killed_half_way_then_rerun_equals_uninterrupted(scored: dict[str, Path]) -> None:
    base = _copy(scored, "refresh_base")
    extend_simulation(base, 1)
    # the new day's features once; then the scoring step of the refresh, interrupted or not
    rc, out = dbt(["run", "--select", "+fct_account_features"], base, scored["artifacts"], scored["target"])
    assert rc == 0, out[-3000:]
    clean, crashed = scored["tmp"] / "clean.duckdb", scored["tmp"] / "crashed.duckdb"
    shutil.copy(base, clean)
    shutil.copy(base, crashed)
    # the uninterrupted run scores one batch at a time, the crashed one and its rerun three
    one = ["--vars", "{score_batch_size: 500, score_workers: 1}"]
    small = ["--vars", "{score_batch_size: 500, score_workers: 3}"]
    rc, out = dbt(["run", "--select", "ml_bot_scores", *one], clean, scored["artifacts"], scored["target"])
    assert rc == 0, out[-3000:]
    rc, out = dbt(["run", "--select", "ml_bot_scores", *small], crashed, scored["artifacts"],
                  scored["target"], BOTSIFT_FAIL_AFTER_BATCHES="3")
    assert rc != 0, "the fault injection should have killed the refresh"
    rc, out = dbt(["run", "--select", "ml_bot_scores", *small], crashed, scored["artifacts"], scored["target"])
    assert rc == 0, out[-3000:]
    new_day = _one(clean, "select max(as_of_date) from marts.ml_bot_scores")
    assert _one(clean, f"select count(*) from marts.ml_bot_scores where as_of_date = date '{new_day}'") > 1500
    assert _scores(crashed) == _scores(clean)


def _column_types(wh: Path) -> list[tuple]:
    return _rows(wh, "select column_name, data_type from duckdb_columns() "
                     "where schema_name = 'marts' and table_name = 'ml_bot_scores' order by column_index")


@pytest.mark.parametrize("failure", ["killed", "missing_model_file"])
def test_a_failed_refresh_leaves_the_widened_enums_as_they_were(scored: dict[str, Path],
                                                                 failure: str) -> None:
    """A new shadow widens the model_version ENUM before scoring; when the refresh then dies
    (killed mid-scoring, or the shadow's model file is missing) the table keeps its types and
    rows: dbt runs a Python model's code before any BEGIN, so the ALTER committed on its own."""
    wh = _copy(scored, f"widen_{failure}")
    onnx_path = "'/nonexistent/model.onnx'" if failure == "missing_model_file" else "onnx_path"
    con = duckdb.connect(str(wh))
    con.execute("insert into registry.model_versions select * replace ('v-new-shadow' as model_version, "
                f"'shadow' as status, {onnx_path} as onnx_path) from registry.model_versions "
                "where status = 'active'")
    con.close()
    types, before = _column_types(wh), _scores(wh)
    assert "v-new-shadow" not in dict(types)["model_version"]
    extra = {"BOTSIFT_FAIL_AFTER_BATCHES": "2"} if failure == "killed" else {}
    rc, out = dbt(["run", "--select", "ml_bot_scores", "--vars", "{score_batch_size: 500, score_workers: 1}"],
                  wh, scored["artifacts"], scored["target"], **extra)
    assert rc != 0, out[-3000:]
    assert _column_types(wh) == types
    assert _scores(wh) == before


@pytest.mark.parametrize("corruption", [
    "delete from marts.ml_bot_scores where rowid = (select min(rowid) from marts.ml_bot_scores "
    "where as_of_date = (select max(as_of_date) from marts.ml_bot_scores))",
    "update marts.ml_bot_scores set account_id = account_id + 1000000000 where rowid = "
    "(select min(rowid) from marts.ml_bot_scores where as_of_date = "
    "(select max(as_of_date) from marts.ml_bot_scores))",
])
def test_latest_snapshot_reconciles_scores_with_features(scored: dict[str, Path],
                                                         corruption: str) -> None:
    """Counts in = counts out: a score lost or moved to another account fails the build."""
    test = "assert_ml_bot_scores__latest_snapshot_fully_scored"
    rc, out = dbt(["test", "--select", test], scored["wh"], scored["artifacts"], scored["target"])
    assert rc == 0, out[-3000:]
    wh = _copy(scored, "lost_score")
    con = duckdb.connect(str(wh))
    con.execute(corruption)
    con.close()
    rc, out = dbt(["test", "--select", test], wh, scored["artifacts"], scored["target"])
    assert rc != 0 and f"FAIL 1 {test}" in " ".join(out.split()), out[-3000:]


def test_a_retired_versions_rows_on_the_latest_snapshot_do_not_fail_the_build(
        scored: dict[str, Path]) -> None:
    """A version replaced (or rolled back) after it scored the latest snapshot keeps those rows
    as history; an account the snapshot gained since (a mid-day load, which the active version
    re-scores) must not fail the reconciliation, which skips every BI model after it."""
    test = "assert_ml_bot_scores__latest_snapshot_fully_scored"
    wh = _copy(scored, "replaced_history")
    con = duckdb.connect(str(wh))
    con.execute("insert into registry.model_versions select * replace ('v-replaced' as model_version, "
                "'retired' as status) from registry.model_versions where status = 'active'")
    # as a refresh that scored with the replaced version would have left the table
    widen_coded_columns(con, "marts.ml_bot_scores", {"model_version": ["v-replaced"]})
    con.execute("""insert into marts.ml_bot_scores by name
        select * replace ('v-replaced' as model_version) from marts.ml_bot_scores
        where as_of_date = (select max(as_of_date) from marts.ml_bot_scores)
            and account_id <> (select max(account_id) from marts.ml_bot_scores)""")
    con.close()
    rc, out = dbt(["test", "--select", test], wh, scored["artifacts"], scored["target"])
    assert rc == 0, out[-3000:]
    # a deployed version missing the same account still fails
    con = duckdb.connect(str(wh))
    con.execute("update registry.model_versions set status = 'shadow' where model_version = 'v-replaced'")
    con.close()
    rc, out = dbt(["test", "--select", test], wh, scored["artifacts"], scored["target"])
    assert rc != 0 and f"FAIL 1 {test}" in " ".join(out.split()), out[-3000:]


def _fails_naming(out: str, rc: int, needle: str) -> None:
    assert rc != 0
    lines = [ln for ln in out.splitlines() if needle in ln]
    assert lines, out[-3000:]
    assert any("BotsiftError" in ln for ln in lines), lines


def test_missing_model_file_fails_the_build(scored: dict[str, Path]) -> None:
    onnx = scored["artifacts"] / str(scored["version"]) / "model.onnx"
    saved = onnx.read_bytes()
    wh = _copy(scored, "missing")
    try:
        onnx.unlink()
        rc, out = dbt(["build", "--select", "ml_bot_scores"], wh, scored["artifacts"], scored["target"])
    finally:
        onnx.write_bytes(saved)
    _fails_naming(out, rc, f"model file {onnx} is missing")


def test_tampered_model_file_fails_the_build(scored: dict[str, Path]) -> None:
    onnx = scored["artifacts"] / str(scored["version"]) / "model.onnx"
    saved = onnx.read_bytes()
    wh = _copy(scored, "tampered")
    try:
        onnx.write_bytes(saved[:-8] + b"\x00" * 8)
        rc, out = dbt(["build", "--select", "ml_bot_scores"], wh, scored["artifacts"], scored["target"])
    finally:
        onnx.write_bytes(saved)
    _fails_naming(out, rc, "does not match its recorded sha256")


@pytest.mark.parametrize(("change", "needle"), [
    ("drop column count_posts_7d", "feature column count_posts_7d is missing"),
    ("alter column bio_length type varchar", "feature column bio_length in fct_account_features has type VARCHAR"),
])
def test_feature_column_dropped_or_retyped_fails_the_build(scored: dict[str, Path], change: str,
                                                          needle: str) -> None:
    wh = _copy(scored, "schema")
    con = duckdb.connect(str(wh))
    con.execute(f"alter table marts.fct_account_features {change}")
    con.close()
    rc, out = dbt(["build", "--select", "ml_bot_scores"], wh, scored["artifacts"], scored["target"])
    _fails_naming(out, rc, needle)


def test_scoring_before_the_features_are_built_fails_with_a_clear_error(
        scored: dict[str, Path]) -> None:
    wh = _copy(scored, "no_features")
    con = duckdb.connect(str(wh))
    con.execute("drop table marts.fct_account_features")
    con.close()
    rc, out = dbt(["build", "--select", "ml_bot_scores"], wh, scored["artifacts"], scored["target"])
    _fails_naming(out, rc, "the feature table fct_account_features is not built: run `dbt build")
    assert "CatalogException" not in out and "Traceback" not in out, out[-3000:]


def test_no_active_model_fails_with_a_clear_error(scored: dict[str, Path]) -> None:
    wh = _copy(scored, "retired")
    con = duckdb.connect(str(wh))
    con.execute("update registry.model_versions set status = 'retired'")
    con.close()
    rc, out = dbt(["build", "--select", "ml_bot_scores"], wh, scored["artifacts"], scored["target"])
    _fails_naming(out, rc, "no active model in registry.model_versions")


def test_a_shadow_on_another_feature_list_scores_beside_the_active_model(
        scored: dict[str, Path]) -> None:
    """A shadow trained on other features (here one fewer) must not stop the active model."""
    wh = _copy(scored, "shadow_features")
    manifest = copy.deepcopy(load_manifest_at(scored["target"]))
    node = next(n for n in manifest["nodes"].values() if n.get("name") == "fct_account_features")
    column = node["columns"]["count_posts_7d"]
    for meta in (column.get("meta"), (column.get("config") or {}).get("meta")):
        if meta:
            meta.pop("role", None)
    shadow = train_models(wh, manifest, scored["artifacts"], per_region=False,
                          model_version="20261124T090000-shadow1", **FAST)
    assert "count_posts_7d" not in shadow.card["features"]
    promote(wh, shadow.model_version, to="shadow")
    rc, out = dbt(["build", "--select", "ml_bot_scores"], wh, scored["artifacts"], scored["target"])
    assert rc == 0, out[-3000:]
    latest, n_accounts = _latest_snapshot(wh)
    with duckdb.connect(str(wh), read_only=True) as con:
        per_status = dict(con.execute(
            "select deployment_status || ':' || model_version, count(*) from marts.ml_bot_scores "
            f"where as_of_date = date '{latest}' group by all").fetchall())
    assert per_status == {f"active:{scored['version']}": n_accounts,
                          f"shadow:{shadow.model_version}": n_accounts}
    assert check_warehouse_scores(wh).passed


def test_after_a_promotion_one_version_per_date_is_in_force(scored: dict[str, Path]) -> None:
    """BI counts decisions per day on is_in_force: deployment_status alone counts a re-scored date twice."""
    wh = _copy(scored, "promotion")
    newer = train_models(wh, load_manifest_at(scored["target"]), scored["artifacts"], per_region=False,
                         model_version="20261124T120000-newer", **FAST)
    promote(wh, newer.model_version, to="active", accept_unmet_target=True)
    rc, out = dbt(["build", "--select", "ml_bot_scores", "fct_bot_scores"], wh, scored["artifacts"],
                  scored["target"])
    assert rc == 0, out[-3000:]
    latest, n_accounts = _latest_snapshot(wh)
    with duckdb.connect(str(wh), read_only=True) as con:
        rows = dict(con.execute(
            "select model_version || ':' || is_in_force, count(*) from marts.fct_bot_scores "
            f"where as_of_date = date '{latest}' and deployment_status = 'active' group by all").fetchall())
        per_date = con.execute("select as_of_date, count(distinct model_version), count(*) "
                               "from marts.fct_bot_scores where is_in_force group by all").fetchall()
        before = con.execute("select distinct model_version from marts.fct_bot_scores "
                             f"where is_in_force and as_of_date < date '{latest}'").fetchall()
    # the previous version's rows stay as history, marked active but no longer in force
    assert rows == {f"{newer.model_version}:true": n_accounts, f"{scored['version']}:false": n_accounts}
    assert all(versions == 1 for _, versions, _ in per_date)
    # the new active version scores from now on: the dates the previous one decided stay its
    assert len(per_date) > 1 and before == [(str(scored["version"]),)]


def test_score_check_matches_scikit_learn(scored: dict[str, Path]) -> None:
    res = check_warehouse_scores(scored["wh"])
    assert res.passed and res.n_rows > 0 and res.max_abs_diff <= 1e-5


def test_the_review_queues_reasons_add_up_to_the_warehouse_score(scored: dict[str, Path]) -> None:
    # top_features are the deployed ensemble's own contributions: recomputed from the card
    # for every queued account, they explain the very score the warehouse stored (the ONNX
    # graph's), and the queue shows the largest positive ones
    import json

    import numpy as np

    from botsift.explain import KIND, contributions

    con = duckdb.connect(str(scored["wh"]), read_only=True)
    try:
        card = json.loads(con.execute(
            "select card from registry.model_versions where model_version = ? and segment = 'global'",
            [str(scored["version"])]).fetchall()[0][0])
        assert card["explain"]["kind"] == KIND
        cols = ", ".join(f'f."{c}"' for c in card["features"])
        rows = con.execute(f"""
            select q.bot_probability, q.top_features, {cols}
            from marts.fct_bot_review_queue q
            join marts.fct_account_features f using (account_id, as_of_date)
            order by q.queue_rank""").fetchall()
    finally:
        con.close()
    assert rows
    matrix = np.array([[np.nan if v is None else v for v in r[2:]] for r in rows], dtype=np.float32)
    c, p, p0 = contributions(matrix, card["explain"])
    np.testing.assert_allclose(p, [r[0] for r in rows], rtol=0, atol=1e-5)
    for i, r in enumerate(rows):
        shown = json.loads(r[1])
        top = [j for j in np.argsort(-c[i])[:3] if c[i, j] > 0]
        assert [d["feature"] for d in shown] == [card["features"][j] for j in top]
        # log-odds of the score, rounded to 4 places
        np.testing.assert_allclose([d["contribution"] for d in shown], c[i, top], atol=2e-4)
