from __future__ import annotations

import json
import sys
from datetime import date, datetime

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from botsift.errors import BotsiftError
from botsift.registry import SegmentArtifact, promote, register, write_version
from botsift.scoring import SCORE_SCHEMA
from botsift.scoring_model import (
    _date_filter,
    dates_to_score,
    dbt_score_model,
    deployed_models,
    score_relation,
    score_snapshot,
    widen_coded_columns,
)

FEATURES = ["f_a", "f_b"]
DATES = [date(2026, 10, 28), date(2026, 10, 29), date(2026, 10, 30)]


def _onnx(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(300, 2)).astype(np.float32)
    y = (x[:, 0] - x[:, 1] + rng.normal(scale=0.3, size=300) > 0.5).astype(int)
    x[::11, 1] = np.nan  # the imputer in the graph fills nulls, as in trained pipelines
    clf = make_pipeline(SimpleImputer(), LogisticRegression()).fit(x, y)
    onx = convert_sklearn(clf, initial_types=[("input", FloatTensorType([None, 2]))],
                          options={id(clf): {"zipmap": False}})
    return onx.SerializeToString(), clf


def _register(tmp_path, wh, version, seed, status=None, types="DOUBLE"):
    data, clf = _onnx(seed)
    card = {"segment": "global", "features": FEATURES,
            "feature_types": dict.fromkeys(FEATURES, types),
            "thresholds": {"action": 0.9, "review": 0.5}}
    folder = write_version(tmp_path / "artifacts", version,
                           {"global": SegmentArtifact(data, card, {})})
    register(wh, folder)
    if status:
        promote(wh, version, status)
    return folder, clf


def _features(con, n=50):
    rng = np.random.default_rng(7)
    rows = pa.table({
        "account_id": pa.array(np.tile(np.arange(n), len(DATES)), pa.int64()),
        "as_of_date": pa.array(np.repeat(DATES, n), pa.date32()),
        "region": pa.array(["eu"] * (n * len(DATES))),
        "f_a": pa.array(rng.normal(size=n * len(DATES))),
        "f_b": pa.array([None if i % 9 == 0 else float(i % 4) for i in range(n * len(DATES))],
                        pa.float64()),
    })
    con.register("rows", rows)
    con.execute("create or replace table features as select * from rows")
    con.unregister("rows")
    return con.table("features")


def test_deployed_models_empty_registry_then_active_and_shadow(tmp_path):
    wh = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(wh))
    assert deployed_models(con) == []  # no registry schema yet: a fresh warehouse
    con.close()
    _register(tmp_path, wh, "v1", 0)
    con = duckdb.connect(str(wh))
    with pytest.raises(BotsiftError, match="no active model"):
        deployed_models(con)  # registered, never promoted: scoring must not go quiet
    con.close()
    promote(wh, "v1")
    _register(tmp_path, wh, "v2", 1, status="shadow")
    con = duckdb.connect(str(wh))
    models = deployed_models(con)
    con.close()
    assert [(m.model_version, m.status) for m in models] == [("v1", "active"), ("v2", "shadow")]
    assert models[0].features == FEATURES
    assert models[0].feature_types == {"f_a": "DOUBLE", "f_b": "DOUBLE"}
    assert (models[0].action_threshold, models[0].review_threshold) == (0.9, 0.5)


@pytest.mark.parametrize(("edit", "message"), [
    # two active versions: one per status is allowed, or the last row picks the queue's
    ("status = 'active'", "has 2 active versions \\(v1, v2\\): one is allowed"),
    ("action_threshold = null", "v2/global: action_threshold is null"),
    ("card = json_object('model_version', 'v2')", "v2/global: its model card has no feature list"),
    ("action_threshold = 0.42", "action_threshold 0.42 differs from its model card's 0.9"),
    ("onnx_sha256 = (select onnx_sha256 from registry.model_versions where model_version = 'v1')",
     "v2/global: onnx_sha256 .* differs from its model card's"),
])
def test_a_registry_row_edited_by_hand_is_one_line_error(tmp_path, edit, message):
    wh = tmp_path / "wh.duckdb"
    _register(tmp_path, wh, "v1", 0, status="active")
    _register(tmp_path, wh, "v2", 1, status="shadow")
    con = duckdb.connect(str(wh))
    con.execute(f"update registry.model_versions set {edit} where model_version = 'v2'")
    with pytest.raises(BotsiftError, match=message):
        deployed_models(con)


def _v1_active(tmp_path):
    """A feature table (:func:`_features`) and the deployed models of a registry with v1 active."""
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    features = _features(con)
    _register(tmp_path, tmp_path / "reg.duckdb", "v1", 0, status="active")
    reg = duckdb.connect(str(tmp_path / "reg.duckdb"))
    models = deployed_models(reg)
    reg.close()
    return con, features, models


def test_dates_to_score_backfill_then_only_newer_plus_latest(tmp_path):
    con, features, models = _v1_active(tmp_path)
    assert dates_to_score(con, features, None, models, backfill_days=2) == {"v1": ["2026-10-29", "2026-10-30"]}
    assert dates_to_score(con, features, None, models, backfill_days=0) == {"v1": ["2026-10-30"]}
    con.execute("create table scores (model_version varchar, as_of_date date)")
    # a score table created empty (a build before any model was promoted) backfills like a first build
    assert dates_to_score(con, features, "scores", models, backfill_days=2) == {"v1": ["2026-10-29", "2026-10-30"]}
    con.execute("insert into scores values ('v1', date '2026-10-28')")
    # v1 has scored the 28th: the newer dates, and the 28th again (the feature table
    # computes its previous latest date again on each refresh)
    assert dates_to_score(con, features, "scores", models, backfill_days=3) == {
        "v1": ["2026-10-28", "2026-10-29", "2026-10-30"]}
    con.execute("insert into scores values ('v1', date '2026-10-30')")
    assert dates_to_score(con, features, "scores", models, backfill_days=3) == {"v1": ["2026-10-30"]}
    con.execute("delete from features")
    assert dates_to_score(con, features, "scores", models, backfill_days=3) == {"v1": []}


def test_dates_to_score_after_skipped_refreshes_scores_every_new_date(tmp_path):
    # the table last scored the 28th; two refreshes' days arrive at once: the 29th must be
    # scored (and the 28th again) even when the gap is longer than the backfill window
    con, features, models = _v1_active(tmp_path)
    con.execute("create table scores (model_version varchar, as_of_date date)")
    con.execute("insert into scores values ('v1', date '2026-10-28')")
    assert dates_to_score(con, features, "scores", models, backfill_days=1) == {
        "v1": ["2026-10-28", "2026-10-29", "2026-10-30"]}


def test_only_a_shadow_backfills_so_past_dates_keep_the_version_in_force(tmp_path):
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    features = _features(con)
    _register(tmp_path, tmp_path / "reg.duckdb", "v1", 0, status="active")
    _register(tmp_path, tmp_path / "reg.duckdb", "v2", 1, status="shadow")
    reg = duckdb.connect(str(tmp_path / "reg.duckdb"))
    models = deployed_models(reg)
    reg.close()
    con.execute("create table scores (model_version varchar, as_of_date date)")
    con.execute("insert into scores values ('v1', date '2026-10-28'), ('v1', date '2026-10-29'), "
                "('v1', date '2026-10-30')")
    # a new shadow backfills to be compared; the active version re-scores only the newest date
    assert dates_to_score(con, features, "scores", models, backfill_days=3) == {
        "v1": ["2026-10-30"], "v2": ["2026-10-28", "2026-10-29", "2026-10-30"]}
    # a version promoted straight to active (or rolled back to) scores from now on: the
    # dates v0 scored when it was active stay v0's
    con.execute("update scores set model_version = 'v0'")
    assert dates_to_score(con, features, "scores", [models[0]], backfill_days=3) == {"v1": ["2026-10-30"]}


def test_score_snapshot_matches_sklearn_on_every_scored_date(tmp_path):
    wh = tmp_path / "wh.duckdb"
    _, clf = _register(tmp_path, wh, "v1", 0, status="active")
    con = duckdb.connect(str(wh))
    features = _features(con)
    reader = score_snapshot(con, features, batch_size=16, backfill_days=2,
                            scored_at=datetime(2026, 10, 31, 6))
    assert reader.schema == SCORE_SCHEMA
    scores = reader.read_all()
    assert scores.num_rows == 100  # two dates x 50 accounts, in batches of 16
    assert set(scores.column("as_of_date").to_pylist()) == {DATES[1], DATES[2]}
    assert set(scores.column("model_version").to_pylist()) == {"v1"}
    x = con.execute("""select f_a, f_b from features where as_of_date >= date '2026-10-29'
                       order by as_of_date, account_id""").df()
    matrix = x.to_numpy(dtype=np.float32, na_value=np.nan)
    assert np.isnan(matrix).any()  # nulls reach the model as NaN, as at training
    ordered = scores.sort_by([("as_of_date", "ascending"), ("account_id", "ascending")])
    np.testing.assert_allclose(ordered.column("bot_probability").to_numpy(),
                               clf.predict_proba(matrix)[:, 1], rtol=1e-5, atol=1e-6)
    decisions = ordered.column("decision").to_numpy(zero_copy_only=False)
    p = ordered.column("bot_probability").to_numpy()
    assert (decisions == np.where(p >= 0.9, "action", np.where(p >= 0.5, "review", "none"))).all()
    con.close()


@pytest.mark.parametrize("dates", [["2026-10-30"], ["2026-10-29", "2026-10-30"],
                                   ["2026-10-25", "2026-10-27", "2026-10-30"], []])
def test_the_date_filter_is_applied_in_the_scan_not_above_it(tmp_path, dates):
    # a bare IN list of two or more dates stays above the scan in DuckDB: the scan then
    # hands every row of the 30-date feature table up, every column fetched (4x the read at
    # 1M accounts); the filter must reach the scan, which then emits only rows in its range
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute("""create table features as select range as account_id, range * 0.5 as f_a,
                   date '2026-10-01' + cast(range % 30 as int) as as_of_date from range(30000)""")
    con.execute("checkpoint")
    profile = tmp_path / "profile.json"
    con.execute("set enable_profiling = 'json'")
    con.execute(f"set profiling_output = '{profile}'")
    con.execute("""set custom_profiling_settings = '{"OPERATOR_CARDINALITY": "true"}'""")
    got = con.execute(f"select count(*), sum(f_a) from features where {_date_filter(dates)}").fetchall()[0]
    con.close()
    assert got[0] == 1000 * len(dates)

    def nodes(n):
        yield n
        for c in n.get("children", []):
            yield from nodes(c)

    scans = [n for n in nodes(json.loads(profile.read_text())) if n.get("operator_name") == "SEQ_SCAN"]
    span = 0 if not dates else 1000 * (date.fromisoformat(max(dates)) - date.fromisoformat(min(dates))).days + 1000
    assert [s["operator_cardinality"] for s in scans] == [span]


def test_score_snapshot_without_registry_is_empty(tmp_path):
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    reader = score_snapshot(con, _features(con))
    assert reader.schema == SCORE_SCHEMA and reader.read_all().num_rows == 0
    con.close()


def test_a_registry_dropped_under_a_scored_table_fails_instead_of_going_quiet(tmp_path):
    """With no registry a first build writes nothing and passes; once the table holds scores,
    a dropped or emptied registry is a failure (it passed with a warning and scored nothing)."""
    wh = tmp_path / "wh.duckdb"
    _register(tmp_path, wh, "v1", 0, status="active")
    con = duckdb.connect(str(wh))
    _write(con, score_relation(con, _features(con), backfill_days=1), "scores")
    con.execute("create table empty_scores as select * from scores limit 0")
    for drop in ("delete from registry.model_versions", "drop table registry.model_versions"):
        con.execute(drop)
        with pytest.raises(BotsiftError, match="registry.model_versions is missing or empty, "
                                               "but scores holds scores"):
            score_relation(con, con.table("features"), this="scores", backfill_days=1)
        # an empty score table (built before any training) still passes, scoring nothing
        assert score_relation(con, con.table("features"), this="empty_scores",
                              backfill_days=1).fetchall() == []
    con.close()


def test_score_snapshot_fails_before_any_row_on_bad_model_or_features(tmp_path):
    wh = tmp_path / "wh.duckdb"
    folder, _ = _register(tmp_path, wh, "v1", 0, status="active")
    con = duckdb.connect(str(wh))
    features = _features(con)
    con.execute("alter table features alter f_b type integer")
    with pytest.raises(BotsiftError, match="f_b .* has type INTEGER, but model v1 was trained on DOUBLE"):
        score_snapshot(con, con.table("features"))
    con.execute("alter table features drop column f_b")
    with pytest.raises(BotsiftError, match="feature column f_b is missing"):
        score_snapshot(con, con.table("features"))
    features = _features(con)
    onnx = folder / "model.onnx"
    onnx.write_bytes(onnx.read_bytes()[:-1])
    with pytest.raises(BotsiftError, match="does not match its recorded sha256"):
        score_snapshot(con, features)
    con.close()


def test_dbt_score_model_reraises_user_errors_as_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "tracebacklimit", 1000, raising=False)
    wh = tmp_path / "wh.duckdb"
    _register(tmp_path, wh, "v1", 0)  # registered, not promoted
    con = duckdb.connect(str(wh))
    with pytest.raises(BotsiftError, match="no active model") as info:
        dbt_score_model(con, lambda: _features(con), this=None, batch_size="8", backfill_days="1")
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert sys.tracebacklimit == 0  # dbt prints the message without the stack
    with pytest.raises(BotsiftError, match="fct_account_features is not built"):
        dbt_score_model(con, lambda: con.table("marts.no_such_table"), this=None,
                        batch_size="8", backfill_days="1")
    con.close()


def _write(con, relation, table):
    """Write a scoring relation as dbt-duckdb does: register it, create the table from it."""
    con.register("scores_df", relation)
    con.execute(f"create table {table} as select * from scores_df")
    con.unregister("scores_df")


def _types(con, table):
    return dict(con.execute(f"select column_name, data_type from duckdb_columns() "
                            f"where table_name = '{table}'").fetchall())


def test_score_relation_writes_coded_columns_as_enums_with_the_same_rows(tmp_path):
    wh = tmp_path / "wh.duckdb"
    _register(tmp_path, wh, "v1", 0, status="active")
    con = duckdb.connect(str(wh))
    features = _features(con)
    con.execute("update features set region = null where account_id % 5 = 0")
    at = datetime(2026, 10, 31, 6)
    _write(con, score_relation(con, features, batch_size=16, backfill_days=2, scored_at=at), "scores")
    types = _types(con, "scores")
    assert types["decision"] == "ENUM('action', 'none', 'review')"
    assert types["deployment_status"] == "ENUM('active', 'shadow')"
    assert types["model_version"] == "ENUM('v1')" and types["region"] == "ENUM('eu')"
    assert types["bot_probability"] == "FLOAT" and types["top_features"] == "VARCHAR"
    expected = score_snapshot(con, features, batch_size=16, backfill_days=2, scored_at=at).read_all()
    con.register("expected", expected)
    cols = "account_id, as_of_date, cast(region as varchar), cast(model_version as varchar), " \
           "cast(model_segment as varchar), cast(deployment_status as varchar), " \
           "bot_probability, cast(decision as varchar), top_features, scored_at"
    got = con.execute(f"select {cols} from scores order by all").fetchall()
    assert len(got) == 100
    assert got == con.execute(f"select {cols} from expected order by all").fetchall()
    assert con.execute("select count(*) from scores where region is null").fetchall()[0][0] == 20
    con.close()


def test_widen_coded_columns_adds_new_values_and_converts_varchar(tmp_path):
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute("""create table scores (region ENUM('eu'), model_version ENUM('v1'),
                   model_segment varchar, deployment_status ENUM('active', 'shadow'),
                   decision ENUM('action', 'none', 'review'))""")
    con.execute("insert into scores values ('eu', 'v1', 'global', 'active', 'none'), "
                "(null, 'v1', null, 'active', 'review')")
    domains = {"region": ["africa", "eu"], "model_version": ["v2"], "model_segment": ["global"],
               "deployment_status": ["active", "shadow"], "decision": ["action", "none", "review"]}
    final = widen_coded_columns(con, "scores", domains)
    assert final["model_version"] == ["v1", "v2"] and final["region"] == ["africa", "eu"]
    types = _types(con, "scores")
    # a new version and region widen the ENUMs, sorted; the VARCHAR column (a table written
    # before the columns were coded) becomes one; the rows keep their values
    assert types["model_version"] == "ENUM('v1', 'v2')"
    assert types["region"] == "ENUM('africa', 'eu')"
    assert types["model_segment"] == "ENUM('global')"
    assert con.execute("select cast(region as varchar), cast(model_version as varchar), "
                       "cast(model_segment as varchar), cast(decision as varchar) from scores "
                       "order by decision").fetchall() == [
        ("eu", "v1", "global", "none"), (None, "v1", None, "review")]
    # values the table holds already: nothing is altered
    assert widen_coded_columns(con, "scores", {"model_version": ["v2"]}) == {
        "model_version": ["v1", "v2"]}
    with pytest.raises(BotsiftError, match="has no column colour"):
        widen_coded_columns(con, "scores", {"colour": ["red"]})
    con.close()


def test_incremental_write_after_a_new_version_keeps_every_row(tmp_path):
    # the dbt flow: first build, then a new active version scores into the same table
    wh = tmp_path / "wh.duckdb"
    _register(tmp_path, wh, "v1", 0, status="active")
    con = duckdb.connect(str(wh))
    features = _features(con)
    _write(con, score_relation(con, features, backfill_days=1), "scores")
    con.close()
    _register(tmp_path, wh, "v2", 1, status="active")
    con = duckdb.connect(str(wh))
    # an incremental run inserts into the table itself and returns no rows for dbt to append
    # (dbt-duckdb would write them to a temporary table first, then copy them)
    _write(con, score_relation(con, con.table("features"), this="scores", backfill_days=1), "batch")
    assert con.execute("select count(*) from batch").fetchall() == [(0,)]
    assert _types(con, "batch") == _types(con, "scores")
    con.execute("insert into scores select * from batch")
    assert _types(con, "scores")["model_version"] == "ENUM('v1', 'v2')"
    assert con.execute("select cast(model_version as varchar), count(*) from scores "
                       "group by all order by all").fetchall() == [("v1", 50), ("v2", 50)]
    con.close()


def test_a_score_table_missing_a_column_fails_in_one_line_before_any_change(tmp_path):
    wh = tmp_path / "wh.duckdb"
    _register(tmp_path, wh, "v1", 0, status="active")
    con = duckdb.connect(str(wh))
    features = _features(con)
    _write(con, score_relation(con, features, backfill_days=1), "scores")
    con.execute("alter table scores drop column top_features")
    before = con.execute("select * from scores order by all").fetchall()
    with pytest.raises(BotsiftError, match="score table scores has no column top_features .*"
                                           "--full-refresh"):
        score_relation(con, con.table("features"), this="scores", backfill_days=1)
    assert con.execute("select * from scores order by all").fetchall() == before
    con.close()


def test_an_aware_scored_at_is_written_as_naive_utc(tmp_path):
    from datetime import timedelta, timezone

    wh = tmp_path / "wh.duckdb"
    _register(tmp_path, wh, "v1", 0, status="active")
    con = duckdb.connect(str(wh))
    at = datetime(2026, 10, 31, 8, 30, tzinfo=timezone(timedelta(hours=2)))
    _write(con, score_relation(con, _features(con), scored_at=at), "scores")
    assert con.execute("select distinct scored_at from scores").fetchall() == [
        (datetime(2026, 10, 31, 6, 30),)]
    con.close()


def test_a_new_shadow_backfills_alone_and_a_rescored_date_is_replaced_whole(tmp_path):
    wh = tmp_path / "wh.duckdb"
    _register(tmp_path, wh, "v1", 0, status="active")
    con = duckdb.connect(str(wh))
    features = _features(con)
    first = datetime(2026, 10, 31, 6)
    _write(con, score_relation(con, features, backfill_days=3, scored_at=first), "scores")
    con.close()
    _register(tmp_path, wh, "v2", 1, status="shadow")
    con = duckdb.connect(str(wh))
    # account 7 leaves the recomputed latest snapshot: its old score must go with it
    con.execute("delete from features where account_id = 7 and as_of_date = date '2026-10-30'")
    _write(con, score_relation(con, con.table("features"), this="scores", backfill_days=3,
                               scored_at=datetime(2026, 11, 1, 6)), "batch")
    con.execute("insert into scores select * from batch")
    rows = con.execute("select cast(model_version as varchar), cast(as_of_date as varchar), "
                       "count(*), min(scored_at) = timestamp '2026-10-31 06:00' from scores "
                       "group by all order by all").fetchall()
    # v1 (active) re-scored only the newest date; its rows of the 28th and 29th are the
    # first build's, so the version in force on them does not change
    assert rows == [("v1", "2026-10-28", 50, True), ("v1", "2026-10-29", 50, True),
                    ("v1", "2026-10-30", 49, False),
                    ("v2", "2026-10-28", 50, False), ("v2", "2026-10-29", 50, False),
                    ("v2", "2026-10-30", 49, False)]
    con.close()
