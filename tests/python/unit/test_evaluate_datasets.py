"""Tests for botsift.evaluate_datasets on small synthetic exports written by the tests."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from botsift.accounts_loader import load_mapping
from botsift.errors import BotsiftError
from botsift.evaluate_datasets import (
    EXTENDED_FEATURES,
    MART_FEATURES,
    STAGING_VAR_DEFAULTS,
    evaluate,
    format_result,
    informative_features,
    metadata_features,
    read_baseline,
    staging_quarantine,
    staging_vars,
)

MAPPING = """
name: synth
key: {source: id}
columns:
  created_at: created_at
  screen_name: screen_name
  description: description
  followers_count: followers_count
  friends_count: friends_count
  statuses_count: statuses_count
  verified: verified
  default_profile_image: default_profile_image
  exported_at: exported_at
label: {source: bot}
"""


def _write_synthetic(folder: Path, n: int, seed: int, name: str = "synth") -> tuple[Path, Path]:
    """Bots: young, few followers, many follows, digit-heavy names; humans the opposite."""
    rng = np.random.default_rng(seed)
    bot = rng.random(n) < 0.5
    age = np.where(bot, rng.integers(1, 200, n), rng.integers(100, 3000, n))
    created = pd.Timestamp("2017-03-01") - pd.to_timedelta(age, unit="D")
    followers = np.where(bot, rng.poisson(5, n), rng.poisson(300, n))
    friends = np.where(bot, rng.poisson(800, n), rng.poisson(250, n))
    names = [f"user{i}{rng.integers(1000, 9999)}" if b else f"person_{chr(97 + i % 26)}x{i}"
             for i, b in enumerate(bot)]
    frame = pd.DataFrame({
        "id": np.arange(1, n + 1) + seed * 100_000,
        "created_at": created.strftime("%a %b %d %H:%M:%S +0000 %Y"),
        "screen_name": names,
        "description": ["" if b else "a human bio" for b in bot],
        "followers_count": followers,
        "friends_count": friends,
        "statuses_count": rng.poisson(200, n),
        "verified": "",                                   # constant: carries no information
        "default_profile_image": np.where(bot & (rng.random(n) < 0.5), "1", ""),
        "exported_at": "2017-03-01 00:00:00",
        "bot": bot.astype(int),
    })
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / f"{name}.csv"
    frame.to_csv(csv_path, index=False)
    mapping = folder / f"{name}.yml"
    mapping.write_text(MAPPING.replace("name: synth", f"name: {name}"))
    return csv_path, mapping


def test_metadata_features_mirror_the_mart() -> None:
    accounts = pd.DataFrame([{
        "id": 1, "created_at": pd.Timestamp("2017-01-01 23:00"), "exported_at": pd.Timestamp("2017-01-11 01:00"),
        "followers_count": 9, "friends_count": 2, "statuses_count": 22, "screen_name": "ab12",
        "description": "hello", "url": None, "default_profile_image": True, "verified": None,
        "name": "A", "favourites_count": 4, "listed_count": None,
    }])
    f = metadata_features(accounts).loc[1]
    assert list(f.index) == list(MART_FEATURES)
    assert f["account_age_days"] == 10                     # calendar days, as dbt.datediff
    assert f["followers_following_ratio"] == pytest.approx(9 / 3)
    assert f["posts_per_day_of_age"] == pytest.approx(22 / 11)
    assert f["screen_name_digit_ratio"] == pytest.approx(0.5)
    assert (f["has_default_profile_image"], f["is_verified"], f["has_profile_url"]) == (1.0, 0.0, 0.0)
    assert f["bio_length"] == 5 and f["screen_name_length"] == 4
    assert f["likes_per_day_of_age"] == pytest.approx(4 / 11) and f["count_likes"] == 4
    assert f["followers_per_day_of_age"] == pytest.approx(9 / 11) and f["count_posts"] == 22
    assert np.isnan(f["count_listed"]) and f["display_name_length"] == 1   # unknown is not 0
    ext = metadata_features(accounts, "extended").loc[1]
    assert list(ext.index) == [*MART_FEATURES, *EXTENDED_FEATURES]


def test_staging_quarantine_mirrors_the_accounts_rules_in_order() -> None:
    ok = {"id": 1, "created_at": pd.Timestamp("2020-01-01"), "exported_at": pd.Timestamp("2021-01-01"),
          "region": "eu", "signup_client": "web", "screen_name": "ab", "description": "tab\tand\nnewline",
          "followers_count": 0, "friends_count": None, "statuses_count": 1}
    rows = [
        ok,
        {**ok, "id": None},
        {**ok, "created_at": None, "followers_count": -1},              # the first rule wins
        {**ok, "screen_name": "bad\ufffd"},
        {**ok, "description": "bell\x07", "region": "mars"},
        {**ok, "region": "mars"},
        {**ok, "region": None, "signup_client": "fax"},                   # null region passes
        {**ok, "friends_count": -3},
        {**ok, "exported_at": pd.Timestamp("2031-01-01")},
        {**ok, "created_at": pd.Timestamp("2005-12-31 23:59")},
        {**ok, "created_at": pd.Timestamp("2021-06-01")},               # after its export
    ]
    reasons = staging_quarantine(pd.DataFrame(rows), variables=STAGING_VAR_DEFAULTS,
                                 now=pd.Timestamp("2030-01-01").to_pydatetime())
    assert list(reasons) == [None, "null_id", "null_required", "invalid_encoding",
                             "invalid_encoding", "unknown_enum", "unknown_enum",
                             "negative_counter", "future_timestamp", "pre_launch_timestamp",
                             "created_after_export"]
    # a column the frame lacks breaks no rule (the loader writes every raw column anyway)
    assert list(staging_quarantine(pd.DataFrame([{"id": 1, "created_at": ok["created_at"]}]),
                                   variables=STAGING_VAR_DEFAULTS)) == [None]


def test_staging_var_defaults_are_the_projects() -> None:
    """The python path's defaults (used without a dbt project) are dbt_project.yml's vars."""
    import yaml  # type: ignore[import-untyped]

    repo = Path(__file__).resolve().parents[3]
    project_vars = yaml.safe_load((repo / "dbt_project.yml").read_text())["vars"]
    assert {k: project_vars[k] for k in STAGING_VAR_DEFAULTS} == STAGING_VAR_DEFAULTS
    assert staging_vars() == STAGING_VAR_DEFAULTS


def test_informative_features_drops_null_and_constant() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, np.nan], "b": [1.0, 1.0, np.nan], "c": [np.nan] * 3})
    assert informative_features(frame, ["a", "b", "c"]) == ["a"]


def test_cross_validation_on_synthetic_export(tmp_path: Path) -> None:
    csv_path, mapping = _write_synthetic(tmp_path, 300, seed=1)
    r = evaluate([csv_path], load_mapping(mapping), folds=3, seed=0,
                 models=["logistic", "tree_depth4", "hist_gb"], n_jobs=1, feature_source="python")
    assert r.mode == "cv" and r.rows_train == 300
    assert "is_verified" in r.dropped_features and "has_profile_url" in r.dropped_features
    assert list(r.scores) == ["without_verified"]           # verified carries nothing here
    for model in ("logistic", "tree_depth4", "hist_gb"):
        assert r.scores["without_verified"][model]["accuracy"] > 0.9
        assert r.scores["without_verified"][model]["roc_auc"] > 0.95
    again = evaluate([csv_path], load_mapping(mapping), folds=3, seed=0,
                     models=["logistic", "tree_depth4", "hist_gb"], n_jobs=1, feature_source="python")
    assert again.scores == r.scores                          # same seed, same figures
    assert json.loads(r.to_json())["train"] == "synth"
    assert any("| without_verified | hist_gb |" in line for line in format_result(r))


def test_cross_dataset_and_baseline(tmp_path: Path) -> None:
    a_csv, a_map = _write_synthetic(tmp_path / "a", 200, seed=2, name="alpha")
    b_csv, b_map = _write_synthetic(tmp_path / "b", 150, seed=3, name="beta")
    baselines = tmp_path / "baselines.csv"
    baselines.write_text("name,a4,p4,r4,f4,ba4\nalpha,0.9,0.8,0.7,0.75,0.85\n")
    assert read_baseline(baselines, "alpha") == {"accuracy": 0.9, "precision": 0.8, "recall": 0.7,
                                                 "f1": 0.75, "balanced_accuracy": 0.85}
    assert read_baseline(baselines, "gamma") is None
    r = evaluate([a_csv], load_mapping(a_map), test_paths=[b_csv], test_mapping=load_mapping(b_map),
                 models=["logistic"], baselines=baselines, n_jobs=1, feature_source="python")
    assert (r.mode, r.train, r.test, r.rows_test) == ("cross", "alpha", "beta", 150)
    assert r.scores["without_verified"]["logistic"]["accuracy"] > 0.85
    cv = evaluate([a_csv], load_mapping(a_map), folds=3, models=["tree_depth4"], baselines=baselines,
                  n_jobs=1, feature_source="python")
    assert cv.baseline == pytest.approx({"accuracy": 0.9, "precision": 0.8, "recall": 0.7,
                                         "f1": 0.75, "balanced_accuracy": 0.85})
    assert any("Hays 2023" in line for line in format_result(cv))


def test_single_class_and_bad_arguments_raise(tmp_path: Path) -> None:
    csv_path, mapping = _write_synthetic(tmp_path, 40, seed=4)
    frame = pd.read_csv(csv_path)
    frame.assign(bot=1).to_csv(csv_path, index=False)
    with pytest.raises(BotsiftError, match="one class"):
        evaluate([csv_path], load_mapping(mapping), folds=3, models=["logistic"], n_jobs=1, feature_source="python")
    with pytest.raises(BotsiftError, match="unknown models"):
        evaluate([csv_path], load_mapping(mapping), models=["svm"], feature_source="python")
    with pytest.raises(BotsiftError, match="feature source"):
        frame.to_csv(csv_path, index=False)
        evaluate([csv_path], load_mapping(mapping), feature_source="spark", models=["logistic"])
    n_bots = int(frame["bot"].sum())
    with pytest.raises(BotsiftError, match=rf"50 folds need at least 50 bots and 50 humans; "
                                           rf"it has {n_bots} bots and {40 - n_bots} humans"):
        evaluate([csv_path], load_mapping(mapping), folds=50, models=["logistic"], feature_source="python")


def test_cli_evaluate_checks_baselines_and_out_before_evaluating(tmp_path: Path) -> None:
    from botsift.cli import app

    csv_path, mapping = _write_synthetic(tmp_path, 40, seed=4)
    (tmp_path / "a_file").write_text("x")
    for extra, message in ((["--baselines", str(tmp_path / "nope.csv")], "baselines file"),
                           (["--out", str(tmp_path / "a_file")], "cannot write results to")):
        res = CliRunner().invoke(app, ["evaluate", str(csv_path), "--mapping", str(mapping),
                                       "--features", "python", *extra])
        assert res.exit_code == 1 and message in res.output, res.output
        assert "Traceback" not in res.output and "accuracy" not in res.output  # nothing evaluated


def test_cli_evaluate_writes_json(tmp_path: Path) -> None:
    from botsift.cli import app

    csv_path, mapping = _write_synthetic(tmp_path, 120, seed=5)
    out = tmp_path / "results"
    res = CliRunner().invoke(app, ["evaluate", str(csv_path), "--mapping", str(mapping),
                                   "--folds", "3", "--features", "python", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "3-fold stratified CV on synth" in res.output
    saved = json.loads((out / "evaluate_cv_synth_python_mart.json").read_text())
    assert saved["scores"]["without_verified"]["soft_vote"]["accuracy"] > 0.85


def test_too_few_of_a_class_for_the_tuned_trees_inner_search_is_named(tmp_path: Path) -> None:
    csv_path, mapping = _write_synthetic(tmp_path, 40, seed=4)
    frame = pd.read_csv(csv_path)
    bots = frame[frame["bot"] == 1].head(4)
    pd.concat([frame[frame["bot"] == 0], bots]).to_csv(csv_path, index=False)
    # 4 bots in 3 folds: a training set can hold 2, and the inner search needs 3
    with pytest.raises(BotsiftError, match=r"inner 3-fold search needs at least 3 of each class "
                                           r"in every training set; with 3 folds the smaller "
                                           r"class \(4 rows\) leaves 2"):
        evaluate([csv_path], load_mapping(mapping), folds=3, feature_source="python", n_jobs=1)
    # the other models need no inner search
    r = evaluate([csv_path], load_mapping(mapping), folds=3, models=["logistic"],
                 feature_source="python", n_jobs=1)
    assert r.rows_train == len(frame[frame["bot"] == 0]) + 4


def test_cli_evaluate_reads_the_test_export_with_the_training_mapping_by_default(
        tmp_path: Path) -> None:
    from botsift.cli import app

    train_csv, mapping = _write_synthetic(tmp_path / "a", 120, seed=5)
    test_csv, _ = _write_synthetic(tmp_path / "b", 80, seed=6)
    res = CliRunner().invoke(app, ["evaluate", str(train_csv), "--mapping", str(mapping),
                                   "--test-on", str(test_csv), "--features", "python",
                                   "--out", str(tmp_path / "results")])
    assert res.exit_code == 0, res.output
    saved = json.loads((tmp_path / "results" / "evaluate_synth_to_synth_python_mart.json").read_text())
    assert saved["rows_test"] == 80


def test_an_export_without_a_usable_labelled_account_is_named_not_called_one_class(
        tmp_path: Path) -> None:
    csv_path, mapping = _write_synthetic(tmp_path, 20, seed=3)
    frame = pd.read_csv(csv_path)
    frame["followers_count"] = -1                      # staging quarantines every account
    frame.to_csv(csv_path, index=False)
    with pytest.raises(BotsiftError, match="synth: no labelled account has a feature row"):
        evaluate([csv_path], load_mapping(mapping), folds=3, models=["logistic"], n_jobs=1,
                 feature_source="python")
