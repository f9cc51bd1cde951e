"""train_models end to end on a synthetic table: artifacts, registry, evaluation tables."""
from __future__ import annotations

import json

import duckdb
import numpy as np
import pytest

from botsift.errors import BotsiftError
from botsift.examples import load_training_examples
from botsift.export import onnx_probabilities
from botsift.registry import list_versions, load_active, promote, sha256_file
from botsift.train import train_models
from conftest import FAST, write_lock_held

pytestmark = pytest.mark.integration


def test_version_folder_and_card(trained):
    result, _, _ = trained
    folder = result.folder
    assert folder.name == "20261123T101500-test000"
    assert {"model.onnx", "model_card.json", "tree_rules.txt"} <= {p.name for p in folder.iterdir()}
    card = json.loads((folder / "model_card.json").read_text())
    assert card["onnx_sha256"] == sha256_file(folder / "model.onnx")
    assert card["features"] == result.card["features"] and len(card["features"]) == 30
    assert card["parity"]["passed"] and card["parity"]["max_abs_diff"] <= 1e-5
    assert card["rows"]["train"]["positives"] > 0 and card["training_snapshot"]
    assert abs(sum(card["ensemble"]["weights"]) - 1) < 1e-9
    assert 0 < card["sampling"]["odds_factor"] < 1
    th = card["thresholds"]
    assert 0 < th["review"] <= th["action"] <= 1
    assert {"pr_auc", "pr_auc_ci95_low", "pr_auc_ci95_high"} <= set(
        card["metrics"]["ensemble"]["test"])
    assert set(card["libraries"]) >= {"scikit-learn", "skl2onnx", "onnx", "onnxruntime"}
    assert "|---" in (folder / "tree_rules.txt").read_text()
    regions = card["segment_models"]["regions"]
    assert set(regions) == {"na", "eu", "latam", "apac", "africa"}
    for seg in result.cards:
        if seg != "global":
            assert (folder / "segments" / seg / "model.onnx").is_file()
            assert regions[seg]["decision"] == "region model"


def test_deployed_scores_are_the_card_scores(trained):
    """The ONNX file scores validation exactly as the thresholds were chosen on."""
    result, wh, manifest = trained
    ex = load_training_examples(wh, manifest)
    val = ex.subset(ex.mask("validation"))
    scores = onnx_probabilities((result.folder / "model.onnx").read_bytes(), val.X)
    th = result.card["thresholds"]
    w = val.weight
    flag = scores >= th["review"]
    recall = (w * flag * val.y).sum() / (w * val.y).sum()
    assert recall == pytest.approx(th["review_recall"], abs=1e-9)
    assert scores.mean() < 0.5  # prior-corrected toward the population's bot rate


def test_registry_rows_and_evaluation_tables(trained):
    result, wh, _ = trained
    rows = [r for r in list_versions(wh) if r["model_version"] == result.model_version]
    assert {r["segment"] for r in rows} == set(result.cards)
    assert {r["status"] for r in rows} == {"candidate"}
    con = duckdb.connect(str(wh), read_only=True)
    try:
        names = {r[0] for r in con.execute(
            "select distinct model_name from marts.ml_model_evaluation").fetchall()}
        seg_types = {r[0] for r in con.execute(
            "select distinct segment_type from marts.ml_model_evaluation").fetchall()}
        metrics = {r[0] for r in con.execute(
            "select distinct metric from marts.ml_model_evaluation").fetchall()}
        n_cal = con.execute("select count(*) from marts.ml_model_calibration").fetchall()[0][0]
    finally:
        con.close()
    assert names == {"ensemble", "logistic_regression", "decision_tree", "hist_gradient_boosting"}
    assert seg_types == {"overall", "region", "account_age_band", "signup_client"}
    assert {"tp_at_action", "fp_at_review", "precision_at_action", "recall_at_review",
            "f1_at_action", "roc_auc", "pr_auc", "brier", "pr_auc_ci95_low"} <= metrics
    assert n_cal > 0


def test_load_active_after_promote(trained):
    result, wh, _ = trained
    promote(wh, result.model_version)
    got = load_active(wh, "eu")
    assert got.model_version == result.model_version
    assert got.card["segment"] in ("eu", "global")


def test_same_version_twice_is_refused(trained):
    result, wh, manifest = trained
    with pytest.raises(BotsiftError, match="immutable"):
        train_models(wh, manifest, result.folder.parent, model_version=result.model_version,
                     **FAST)


def test_same_seed_same_scores(project):
    _, wh, manifest = project
    a = train_models(wh, manifest, wh.parent / "a", per_region=False, model_version="a", **FAST)
    b = train_models(wh, manifest, wh.parent / "b", per_region=False, model_version="b", **FAST)
    assert a.card["thresholds"] == b.card["thresholds"]
    assert a.card["ensemble"]["weights"] == b.card["ensemble"]["weights"]
    ex = load_training_examples(wh, manifest)
    sa = onnx_probabilities((a.folder / "model.onnx").read_bytes(), ex.X)
    sb = onnx_probabilities((b.folder / "model.onnx").read_bytes(), ex.X)
    np.testing.assert_array_equal(sa, sb)


def test_card_thresholds_hold_for_the_deployed_graph_on_tied_scores(project):
    """A tree's scores tie on many rows; scoring compares the graph's float32 scores.

    Thresholds chosen on scikit-learn's float64 scores sat exactly on a leaf's score, which
    the graph computes a hair lower: most rows on the threshold were not flagged by scoring.
    """
    from botsift.thresholds import precision_recall_at

    _, wh, manifest = project
    result = train_models(wh, manifest, wh.parent / "tree", per_region=False,
                          families=("decision_tree",), model_version="tree", **FAST)
    ex = load_training_examples(wh, manifest).select_features(result.card["features"])
    val = ex.subset(ex.mask("validation"))
    scores = onnx_probabilities((result.folder / "model.onnx").read_bytes(), val.X)
    th = result.card["thresholds"]
    val_metrics = result.card["metrics"]["ensemble"]["validation"]
    for name in ("action", "review"):
        precision, recall = precision_recall_at(val.y, scores, th[name], val.weight)
        assert (precision, recall) == pytest.approx(
            (th[f"{name}_precision"], th[f"{name}_recall"]), abs=1e-12), name
        assert val_metrics[f"tp_at_{name}"] == ((scores >= th[name]) & (val.y == 1)).sum()


def test_robustness_without_writing_on_the_active_version(project):
    """``write=False`` opens the warehouse read-only; finding the active version must not
    open a second, writable connection beside it (DuckDB refuses that)."""
    from botsift.robustness import ROBUSTNESS_TABLE, run_robustness

    _, wh, manifest = project
    result = train_models(wh, manifest, wh.parent / "rob", per_region=False,
                          model_version="rob", **FAST)
    promote(wh, result.model_version)
    rows = run_robustness(wh, write=False)
    assert {r.model_version for r in rows} == {"rob"}
    assert {r.feature for r in rows} == set(result.card["features"])
    con = duckdb.connect(str(wh), read_only=True)
    try:
        schema, table = ROBUSTNESS_TABLE.split(".")
        assert not con.execute("select count(*) from duckdb_tables() where schema_name = ? "
                               "and table_name = ?", [schema, table]).fetchall()[0][0]
    finally:
        con.close()


def test_a_registration_that_fails_leaves_no_orphan_version_folder(project, monkeypatch):
    """Another process took the warehouse's write lock while the version was being trained
    (a scheduled dbt build): the folder was left complete, unregistered, and no command
    registers it."""
    from botsift import registry

    _, wh, manifest = project
    real = registry.register

    def register_while_locked(warehouse, folder):
        with write_lock_held(warehouse):
            return real(warehouse, folder)  # the real lock error

    monkeypatch.setattr(registry, "register", register_while_locked)
    out = wh.parent / "locked"
    with pytest.raises(BotsiftError, match="locked by another process"):
        train_models(wh, manifest, out, per_region=False, model_version="orphan", **FAST)
    assert list(out.iterdir()) == []  # no version folder, no reservation left


def test_a_failure_after_registration_withdraws_the_version(project, monkeypatch):
    """Evaluation or the drift reference failing after the version was registered (a bad
    BOTSIFT_EXPECTATIONS_DIR, a column dropped from the mart) left a registered candidate
    with no GX suite, which every later build's drift validation trips on."""
    from botsift import evaluation, registry

    _, wh, manifest = project

    def failing(*args, **kwargs):
        raise BotsiftError("cannot write the evaluation")

    monkeypatch.setattr(evaluation, "write_evaluation", failing)
    out = wh.parent / "artifacts_withdrawn"
    with pytest.raises(BotsiftError, match="cannot write the evaluation"):
        train_models(wh, manifest, out, per_region=False, model_version="withdrawn", **FAST)
    assert [r for r in registry.list_versions(wh) if r["model_version"] == "withdrawn"] == []
    assert list(out.iterdir()) == []
    con = duckdb.connect(str(wh), read_only=True)
    try:
        assert con.execute("select count(*) from registry.model_events "
                           "where model_version = 'withdrawn'").fetchall() == [(0,)]
    finally:
        con.close()


def test_a_region_without_bots_in_train_is_scored_by_the_global_model(project):
    # with --min-region-positives 0 it reached a one-class fit: a 120-line ValueError traceback
    _, wh, manifest = project
    con = duckdb.connect(str(wh))
    region = con.execute("select region from marts.ml_training_examples where label = 1 "
                         "group by 1 order by count(*) limit 1").fetchall()[0][0]
    con.execute("update marts.ml_training_examples set split = 'validation' "
                "where region = ? and label = 1 and split = 'train'", [region])
    con.close()
    result = train_models(wh, manifest, wh.parent / "regions", per_region=True,
                          min_region_positives=0, min_region_validation_positives=1,
                          model_version="regions", **FAST)
    selection = result.card["segment_models"]["regions"][region]
    assert selection["train_positives"] == 0 and selection["decision"].startswith("global")
    assert region not in result.cards
