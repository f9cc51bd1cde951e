from __future__ import annotations

import duckdb
import pytest

from botsift.errors import BotsiftError
from botsift.registry import (
    SegmentArtifact,
    list_versions,
    load_active,
    promote,
    register,
    rollback,
    write_version,
)


def _card(seg="global"):
    return {"segment": seg, "thresholds": {"action": 0.9, "review": 0.3}}


def _new(tmp_path, wh, version, regions=()):
    segs = {"global": SegmentArtifact(b"onnx-" + version.encode(), _card(), {"tree_rules.txt": "x"})}
    for r in regions:
        segs[r] = SegmentArtifact(b"onnx-" + r.encode() + version.encode(), _card(r), {})
    folder = write_version(tmp_path / "artifacts", version, segs)
    register(wh, folder)
    return folder


def _deployed(wh, status="active"):
    con = duckdb.connect(str(wh))
    try:
        return con.execute("""select segment, model_version from registry.model_versions
            where status = ? order by segment""", [status]).fetchall()
    finally:
        con.close()


def test_version_folder_is_immutable(tmp_path):
    wh = tmp_path / "wh.duckdb"
    folder = _new(tmp_path, wh, "v1")
    assert (folder / "model.onnx").is_file() and (folder / "tree_rules.txt").is_file()
    with pytest.raises(BotsiftError, match="immutable"):
        write_version(tmp_path / "artifacts", "v1", {"global": SegmentArtifact(b"x", _card(), {})})
    assert (folder / "model.onnx").read_bytes() == b"onnx-v1"
    with pytest.raises(BotsiftError, match="registered already"):
        register(wh, folder)


def test_one_active_per_segment_and_rollback(tmp_path):
    wh = tmp_path / "wh.duckdb"
    _new(tmp_path, wh, "v1", regions=("eu",))
    _new(tmp_path, wh, "v2")
    _new(tmp_path, wh, "v3", regions=("eu",))
    assert all(r["status"] == "candidate" for r in list_versions(wh))
    promote(wh, "v1")
    assert _deployed(wh) == [("eu", "v1"), ("global", "v1")]
    promote(wh, "v2")  # v2 has no eu model: v1's eu model is retired too
    assert _deployed(wh) == [("global", "v2")]
    promote(wh, "v3")
    assert _deployed(wh) == [("eu", "v3"), ("global", "v3")]
    assert rollback(wh) == "v2"
    assert _deployed(wh) == [("global", "v2")]
    assert rollback(wh) == "v1"
    assert _deployed(wh) == [("eu", "v1"), ("global", "v1")]
    with pytest.raises(BotsiftError, match="no earlier active"):
        rollback(wh)
    status = {(r["model_version"], r["segment"]): r["status"] for r in list_versions(wh)}
    assert status[("v3", "global")] == "retired" and status[("v2", "global")] == "retired"


def test_shadow_and_errors(tmp_path):
    wh = tmp_path / "wh.duckdb"
    _new(tmp_path, wh, "v1")
    _new(tmp_path, wh, "v2")
    with pytest.raises(BotsiftError, match="no active model version"):
        rollback(wh)
    promote(wh, "v1", to="shadow")
    promote(wh, "v2", to="shadow")
    status = {r["model_version"]: r["status"] for r in list_versions(wh)}
    assert status == {"v1": "retired", "v2": "shadow"}
    promote(wh, "v2")
    with pytest.raises(BotsiftError, match="active already"):
        promote(wh, "v2")
    with pytest.raises(BotsiftError, match="is active: making it shadow would leave no active"):
        promote(wh, "v2", to="shadow")
    assert {r["model_version"]: r["status"] for r in list_versions(wh)}["v2"] == "active"
    with pytest.raises(BotsiftError, match="not registered"):
        promote(wh, "nope")
    with pytest.raises(BotsiftError, match="'active' or 'shadow'"):
        promote(wh, "v1", to="retired")


def test_a_new_shadow_retires_every_segment_of_the_old_one(tmp_path):
    wh = tmp_path / "wh.duckdb"
    _new(tmp_path, wh, "v1")
    _new(tmp_path, wh, "v2", regions=("africa",))
    _new(tmp_path, wh, "v3")
    promote(wh, "v1")
    promote(wh, "v2", to="shadow")
    assert _deployed(wh, "shadow") == [("africa", "v2"), ("global", "v2")]
    # v3 has no africa model: v2's must not stay in shadow beside v3's global model
    promote(wh, "v3", to="shadow")
    assert _deployed(wh, "shadow") == [("global", "v3")]
    status = {(r["model_version"], r["segment"]): r["status"] for r in list_versions(wh)}
    assert status[("v2", "africa")] == status[("v2", "global")] == "retired"
    promote(wh, "v3")
    assert _deployed(wh, "shadow") == [] and _deployed(wh) == [("global", "v3")]


def test_load_active_verifies_sha256_and_falls_back(tmp_path):
    wh = tmp_path / "wh.duckdb"
    with pytest.raises(BotsiftError, match="not found"):
        load_active(wh)
    folder = _new(tmp_path, wh, "v1", regions=("eu",))
    with pytest.raises(BotsiftError, match="no active model"):
        load_active(wh)
    promote(wh, "v1")
    assert load_active(wh, "eu").segment == "eu"
    assert load_active(wh, "apac").segment == "global"
    with pytest.raises(BotsiftError, match="no active model"):
        load_active(wh, "apac", fallback_to_global=False)
    got = load_active(wh)
    assert got.onnx_path == (folder / "model.onnx").resolve() and got.card["segment"] == "global"
    (folder / "model.onnx").write_bytes(b"tampered")
    with pytest.raises(BotsiftError, match="sha256"):
        load_active(wh)
