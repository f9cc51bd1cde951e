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


@pytest.mark.parametrize("damage", ["change", "delete"])
def test_promote_and_rollback_refuse_a_version_whose_files_fail_their_sha256(tmp_path, damage):
    wh = tmp_path / "wh.duckdb"
    _new(tmp_path, wh, "v1")
    v2 = _new(tmp_path, wh, "v2", regions=("eu",))
    promote(wh, "v1")
    onnx = v2 / "segments" / "eu" / "model.onnx"
    onnx.write_bytes(b"tampered") if damage == "change" else onnx.unlink()
    needle = "does not match its recorded sha256" if damage == "change" else "is missing"
    # the working version stays active: the next dbt build would have refused v2's file
    with pytest.raises(BotsiftError, match=rf"cannot promote v2 \(eu\): .*model.onnx {needle}"):
        promote(wh, "v2")
    assert _deployed(wh) == [("global", "v1")]
    # a roll back to a damaged version is refused the same way
    _new(tmp_path, wh, "v3")
    promote(wh, "v3")
    (tmp_path / "artifacts" / "v1" / "model.onnx").write_bytes(b"tampered")
    with pytest.raises(BotsiftError, match=r"cannot roll back to v1 \(global\): .*does not match"):
        rollback(wh)
    assert _deployed(wh) == [("global", "v3")]


def test_a_version_that_missed_its_precision_target_is_not_made_active_by_default(tmp_path):
    wh = tmp_path / "wh.duckdb"
    _new(tmp_path, wh, "v1")
    card = {"segment": "global", "thresholds": {
        "action": 4.25e-05, "review": 4.25e-05, "precision_target": 0.95,
        "action_precision": 0.00145, "precision_target_met": False}}
    register(wh, write_version(tmp_path / "artifacts", "v2",
                               {"global": SegmentArtifact(b"onnx-v2", card, {})}))
    promote(wh, "v1")
    with pytest.raises(BotsiftError, match=r"v2 missed its precision target on validation "
                       r"\(global: precision 0.001 < target 0.950 at threshold 4.25e-05\)"):
        promote(wh, "v2")
    assert _deployed(wh) == [("global", "v1")]
    promote(wh, "v2", to="shadow")  # watched, never acted on
    assert _deployed(wh, "shadow") == [("global", "v2")]
    promote(wh, "v2", accept_unmet_target=True)
    assert _deployed(wh) == [("global", "v2")]


def test_listing_versions_creates_nothing(tmp_path):
    wh = tmp_path / "wh.duckdb"
    duckdb.connect(str(wh)).close()
    assert list_versions(wh) == []
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("select count(*) from duckdb_tables()").fetchall() == [(0,)]
    con.close()


def test_registry_commands_leave_a_warehouse_without_a_registry_as_it_was(tmp_path):
    """promote, retire, rollback and load_active on another project's DuckDB file fail in one
    line and create nothing in it (they used to create the registry's tables first)."""
    from botsift.registry import retire

    wh = tmp_path / "other.duckdb"
    con = duckdb.connect(str(wh))
    con.execute("create table t as select 1 as x")
    con.close()
    for call in (lambda: promote(wh, "v1"), lambda: retire(wh, "v1"), lambda: rollback(wh),
                 lambda: load_active(wh)):
        with pytest.raises(BotsiftError, match="has no model registry .* `botsift train`"):
            call()
    con = duckdb.connect(str(wh), read_only=True)
    try:
        assert con.execute("select schema_name from duckdb_schemas() where schema_name = 'registry'"
                           ).fetchall() == []
    finally:
        con.close()


def test_promote_and_retire_report_from_their_own_connection(tmp_path, monkeypatch):
    """Reopening the file after the commit could find it locked by a dbt build, and report a
    failure for a change that was made: the rows come from the connection that made it."""
    import botsift.registry as registry

    wh = tmp_path / "wh.duckdb"
    _new(tmp_path, wh, "v1")
    _new(tmp_path, wh, "v2")

    def reopened(*args, **kwargs):
        raise BotsiftError("warehouse is locked by another process")

    monkeypatch.setattr(registry, "list_versions", reopened)
    assert [(r["model_version"], r["status"]) for r in promote(wh, "v1")] == [("v1", "active")]
    assert [(r["model_version"], r["status"]) for r in registry.retire(wh, "v2")] == [("v2", "retired")]


def test_only_a_candidate_is_withdrawn(tmp_path):
    from botsift.registry import withdraw

    wh = tmp_path / "wh.duckdb"
    _new(tmp_path, wh, "v1")
    _new(tmp_path, wh, "v2")
    promote(wh, "v1")
    with pytest.raises(BotsiftError, match="model version v1 is active: only a candidate is withdrawn"):
        withdraw(wh, "v1")
    withdraw(wh, "v2")
    assert [r["model_version"] for r in list_versions(wh)] == ["v1"]


def test_models_list_prints_whole_values_when_piped(tmp_path, monkeypatch):
    """In a scheduler's log (not a terminal) rich fitted the table to 80 columns: thresholds
    read ``0.90…`` and dates ``2026…``."""
    from typer.testing import CliRunner

    from botsift.cli import app

    wh = tmp_path / "wh.duckdb"
    _new(tmp_path, wh, "20261125T000000-abcdef0", regions=("eu",))
    monkeypatch.delenv("COLUMNS", raising=False)
    res = CliRunner().invoke(app, ["models", "list", "--warehouse", str(wh)])
    assert res.exit_code == 0, res.output
    assert "0.9000" in res.output and "0.3000" in res.output and "…" not in res.output
    assert "20261125T000000-abcdef0" in res.output
