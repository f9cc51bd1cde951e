from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pytest
import skops.io as sio
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.linear_model import LogisticRegression

from botsift.errors import BotsiftError
from botsift.registry import SegmentArtifact, promote, register, write_version
from botsift.score_check import check_warehouse_scores

FEATURES = ["f_a", "f_b"]


@pytest.fixture
def scored_wh(tmp_path):
    """A warehouse holding one active version, its features and its scores of one date."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2)).astype(np.float32)
    y = (x[:, 0] - x[:, 1] > 0).astype(int)
    clf = LogisticRegression().fit(x, y)
    onx = convert_sklearn(clf, initial_types=[("input", FloatTensorType([None, 2]))],
                          options={id(clf): {"zipmap": False}})
    onx.metadata_props.add(key="features", value=",".join(FEATURES))   # as botsift train writes it
    card = {"segment": "global", "features": FEATURES,
            "feature_types": dict.fromkeys(FEATURES, "DOUBLE"),
            "thresholds": {"action": 0.9, "review": 0.5}}
    wh = tmp_path / "wh.duckdb"
    folder = write_version(tmp_path / "artifacts", "v1", {"global": SegmentArtifact(
        onx.SerializeToString(), card, {}, sklearn_bytes=sio.dumps(clf))})
    register(wh, folder)
    promote(wh, "v1")
    p = clf.predict_proba(x)[:, 1]
    decision = np.where(p >= 0.9, "action", np.where(p >= 0.5, "review", "none"))
    con = duckdb.connect(str(wh))
    con.execute("create schema marts")
    con.execute("create table marts.fct_account_features (account_id bigint, as_of_date date, "
                "region varchar, f_a double, f_b double)")
    con.execute("create table marts.ml_bot_scores (account_id bigint, as_of_date date, "
                "model_version varchar, deployment_status varchar, bot_probability double, "
                "decision varchar)")
    day = date(2026, 10, 30)
    con.executemany("insert into marts.fct_account_features values (?, ?, 'eu', ?, ?)",
                    [(i, day, float(a), float(b)) for i, (a, b) in enumerate(x)])
    con.executemany("insert into marts.ml_bot_scores values (?, ?, 'v1', 'active', ?, ?)",
                    [(i, day, float(q), str(d)) for i, (q, d) in enumerate(zip(p, decision, strict=True))])
    con.close()
    return wh


@pytest.mark.parametrize(("change", "needle"), [
    ("drop column f_b", "feature column f_b is missing from marts.fct_account_features"),
    ("alter column f_a type varchar", "feature column f_a in marts.fct_account_features has type VARCHAR"),
])
def test_a_feature_column_dropped_or_retyped_is_one_clear_error(scored_wh, change, needle):
    assert check_warehouse_scores(scored_wh).passed
    con = duckdb.connect(str(scored_wh))
    con.execute(f"alter table marts.fct_account_features {change}")
    con.close()
    # as `dbt build` says it, not DuckDB's binder error (a traceback on the CLI)
    with pytest.raises(BotsiftError, match=needle):
        check_warehouse_scores(scored_wh)


def test_a_promoted_shadow_is_checked_on_the_scores_it_wrote_as_shadow(scored_wh):
    # v1 scored the date as a shadow and was promoted before the next refresh: the same
    # model wrote those rows, so they are what to check (not "has scored nothing yet")
    con = duckdb.connect(str(scored_wh))
    con.execute("update marts.ml_bot_scores set deployment_status = 'shadow'")
    con.close()
    result = check_warehouse_scores(scored_wh)
    assert result.passed and result.n_rows == 200 and result.as_of_date == "2026-10-30"
    con = duckdb.connect(str(scored_wh))
    con.execute("delete from marts.ml_bot_scores")
    con.close()
    with pytest.raises(BotsiftError, match="model v1 has scored nothing yet"):
        check_warehouse_scores(scored_wh)


def test_a_missing_or_changed_onnx_file_fails_the_check_though_the_scores_match(scored_wh, tmp_path):
    onnx = tmp_path / "artifacts" / "v1" / "model.onnx"
    onnx.write_bytes(onnx.read_bytes() + b"x")
    with pytest.raises(BotsiftError, match="does not match its recorded sha256"):
        check_warehouse_scores(scored_wh)
    onnx.unlink()
    with pytest.raises(BotsiftError, match="model file .*model.onnx is missing"):
        check_warehouse_scores(scored_wh)


@pytest.mark.parametrize(("change", "needle"), [
    # a hand-edited registry: the build's one-line errors, not a TypeError or a wrong file blamed
    ("update registry.model_versions set action_threshold = null", "v1/global: action_threshold is null"),
    ("update registry.model_versions set action_threshold = 0.42",
     "action_threshold 0.42 differs from its model card's 0.9"),
    # scikit-learn refuses infinity (it used to be a ValueError traceback)
    ("update marts.fct_account_features set f_a = 'inf'::double where account_id in (3, 4)",
     r"2 feature rows of 2026-10-30 hold an infinite value \(f_a\)"),
    # it said "ok" on 0 rows compared (twentieth-session audit)
    ("delete from marts.fct_account_features",
     "marts.fct_account_features holds no rows of 2026-10-30, the date v1 scored last"),
    ("delete from marts.fct_account_features where account_id < 5",
     "5 warehouse scores of 2026-10-30 from v1 have no feature row"),
    # the card's feature order edited: the check read the same card and said "ok"
    ("""update registry.model_versions
        set card = replace(card, '"features": ["f_a", "f_b"]', '"features": ["f_b", "f_a"]')""",
     "v1/global: its model card's feature list differs from the one model.onnx was trained on"),
])
def test_a_hand_edited_registry_or_feature_table_is_one_clear_error(scored_wh, change, needle):
    con = duckdb.connect(str(scored_wh))
    con.execute(change)
    con.close()
    with pytest.raises(BotsiftError, match=needle):
        check_warehouse_scores(scored_wh)


def test_a_decision_on_a_threshold_tie_must_be_the_one_its_stored_score_gives(scored_wh):
    # a row whose probability sits exactly on the review threshold: either decision could
    # match scikit-learn's float64 score, so it is not compared with it; but the warehouse
    # stored the probability it decided on, and that gives "review"
    con = duckdb.connect(str(scored_wh))
    con.execute("update marts.ml_bot_scores set bot_probability = 0.5, decision = 'review' "
                "where account_id = (select account_id from marts.ml_bot_scores "
                "order by abs(bot_probability - 0.5) limit 1)")
    con.close()
    ok = check_warehouse_scores(scored_wh, atol=0.1)
    assert ok.passed and ok.ties >= 1 and ok.inconsistent_decisions == 0, ok
    con = duckdb.connect(str(scored_wh))
    con.execute("update marts.ml_bot_scores set decision = 'none' where bot_probability = 0.5")
    con.close()
    bad = check_warehouse_scores(scored_wh, atol=0.1)
    assert bad.decision_mismatches == 0  # the tie is not compared with scikit-learn
    assert bad.inconsistent_decisions == 1 and not bad.passed, bad
