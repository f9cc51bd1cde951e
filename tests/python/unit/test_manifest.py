"""Column roles from a dbt manifest: the one feature list."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from botsift.errors import BotsiftError
from botsift.manifest import (
    FEATURE_MODEL,
    TRAINING_MODEL,
    column_roles,
    load_manifest,
    target_dir,
    training_roles,
)


def _node(columns: dict[str, str | None], meta_under_config: bool = False) -> dict:
    cols = {}
    for name, role in columns.items():
        meta = {} if role is None else {"role": role}
        cols[name] = {"config": {"meta": meta}, "meta": {}} if meta_under_config else {"meta": meta}
    return {"columns": cols}


def _manifest(**models: dict) -> dict:
    return {"nodes": {f"model.botsift.{name}": node for name, node in models.items()}}


def test_roles_in_yaml_order_from_meta_or_config_meta() -> None:
    m = _manifest(x=_node({"account_id": "key", "f2": "feature", "note": None, "f1": "feature",
                           "label": "label"}),
                  y=_node({"account_id": "key", "f1": "feature"}, meta_under_config=True))
    roles = column_roles(m, "x")
    assert roles["feature"] == ["f2", "f1"] and roles["key"] == ["account_id"]
    assert roles["label"] == ["label"] and roles["segment"] == []
    assert column_roles(m, "y")["feature"] == ["f1"]  # dbt >= 1.10 keeps meta under config


def test_unknown_role_missing_model_and_no_features_are_errors() -> None:
    m = _manifest(x=_node({"a": "feature", "b": "target"}), z=_node({"a": "key"}))
    with pytest.raises(BotsiftError, match="x.b: unknown column role 'target'"):
        column_roles(m, "x")
    with pytest.raises(BotsiftError, match="model nope is not in the dbt manifest"):
        column_roles(m, "nope")
    with pytest.raises(BotsiftError, match="declares no columns with meta role 'feature'"):
        column_roles(m, "z")
    assert column_roles(m, "z", require_features=False)["key"] == ["a"]


def test_training_roles_take_features_from_the_feature_mart() -> None:
    m = _manifest(**{FEATURE_MODEL: _node({"account_id": "key", "f1": "feature", "f2": "feature"}),
                     TRAINING_MODEL: _node({"account_id": "key", "label": "label",
                                            "split": "split", "region": "segment"})})
    roles = training_roles(m)
    assert roles["feature"] == ["f1", "f2"]
    assert (roles["label"], roles["split"], roles["segment"]) == (["label"], ["split"], ["region"])
    alone = _manifest(**{TRAINING_MODEL: _node({"label": "label"})})
    with pytest.raises(BotsiftError, match="declares feature columns"):
        training_roles(alone)


def test_load_manifest_reads_target_or_says_to_parse(tmp_path: Path) -> None:
    with pytest.raises(BotsiftError, match="run `dbt parse`"):
        load_manifest(tmp_path)
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "manifest.json").write_text(json.dumps(_manifest(x=_node({}))))
    assert "model.botsift.x" in load_manifest(tmp_path)["nodes"]
    # a manifest cut short (a dbt run killed while writing it) or not a manifest: one line
    for text, needle in (('{"nodes": ', "cannot be read .*JSONDecodeError"),
                         ("[]", "is not a dbt manifest")):
        (tmp_path / "target" / "manifest.json").write_text(text)
        with pytest.raises(BotsiftError, match=needle + ".*run `dbt parse`"):
            load_manifest(tmp_path)


def test_load_manifest_follows_dbt_target_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`dbt build` with DBT_TARGET_PATH writes the manifest there: train must read that one."""
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "manifest.json").write_text(json.dumps(_manifest(stale=_node({}))))
    (tmp_path / "ci-target").mkdir()
    (tmp_path / "ci-target" / "manifest.json").write_text(json.dumps(_manifest(fresh=_node({}))))
    monkeypatch.setenv("DBT_TARGET_PATH", "ci-target")  # relative: to the project, as dbt reads it
    assert target_dir(tmp_path) == tmp_path / "ci-target"
    assert "model.botsift.fresh" in load_manifest(tmp_path)["nodes"]
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    assert "model.botsift.stale" in load_manifest(tmp_path)["nodes"]
    monkeypatch.delenv("DBT_TARGET_PATH")
    # an explicit folder (a run made with --target-path) wins
    assert "model.botsift.fresh" in load_manifest(tmp_path, target=tmp_path / "ci-target")["nodes"]
    with pytest.raises(BotsiftError, match="elsewhere"):
        load_manifest(tmp_path, target=tmp_path / "elsewhere")
