"""Model registry: immutable version folders under ``artifacts/`` and a warehouse table.

Layout of one version (never rewritten once written)::

    artifacts/<model_version>/model.onnx, model_card.json, tree_rules.txt     (segment global)
    artifacts/<model_version>/segments/<region>/model.onnx, model_card.json   (region models)

``registry.model_versions`` holds one row per version and segment with its status
(candidate, shadow, active, retired); ``registry.model_events`` logs every status change, which
is what :func:`rollback` reads. Promotion works on a whole version (all its segments) so that
one version serves at a time; at most one version is active (and one shadow) per segment.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from botsift.errors import BotsiftError
from botsift.project import connect_warehouse, table_exists
from botsift.registry_tables import ensure_registry_tables

__all__ = ["VERSIONS_TABLE", "EVENTS_TABLE", "GLOBAL_SEGMENT", "STATUSES", "SegmentArtifact",
           "ActiveModel", "missed_precision_target", "sha256_bytes", "sha256_file", "write_version", "register",
           "list_versions", "promote", "retire", "rollback", "load_active", "withdraw"]

log = logging.getLogger(__name__)

VERSIONS_TABLE = "registry.model_versions"
EVENTS_TABLE = "registry.model_events"
GLOBAL_SEGMENT = "global"
STATUSES = ("candidate", "shadow", "active", "retired")
CARD_NAME, ONNX_NAME, SKLEARN_NAME = "model_card.json", "model.onnx", "model.skops"


@dataclass
class SegmentArtifact:
    """What one segment model writes into its version folder."""

    onnx_bytes: bytes
    card: dict[str, Any]
    extra_files: dict[str, str]
    sklearn_bytes: bytes | None = None


@dataclass
class ActiveModel:
    """The verified ONNX file and card of the model serving a segment."""

    model_version: str
    segment: str
    onnx_path: Path
    card: dict[str, Any]


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _segment_dir(folder: Path, segment: str) -> Path:
    return folder if segment == GLOBAL_SEGMENT else folder / "segments" / segment


def write_version(artifacts_dir: Path, model_version: str,
                  segments: dict[str, SegmentArtifact]) -> Path:
    """Write a version folder atomically (temp folder, then rename); refuse to overwrite.

    Each card gets ``onnx_sha256`` and ``onnx_file`` (and ``sklearn_file``/``sklearn_sha256``
    when the scikit-learn model is given) before it is written.

    Raises
    ------
    BotsiftError
        If the version folder exists already, or there is no global segment.
    """
    if GLOBAL_SEGMENT not in segments:
        raise BotsiftError("a model version needs a global segment model")
    artifacts_dir = Path(artifacts_dir)
    final = artifacts_dir / model_version
    if final.exists():
        raise BotsiftError(f"{final} exists: model versions are immutable; train a new version")
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    tmp = artifacts_dir / f".tmp-{model_version}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        for seg, art in segments.items():
            d = _segment_dir(tmp, seg)
            d.mkdir(parents=True, exist_ok=True)
            (d / ONNX_NAME).write_bytes(art.onnx_bytes)
            card = {**art.card, "onnx_file": ONNX_NAME, "onnx_sha256": sha256_bytes(art.onnx_bytes)}
            if art.sklearn_bytes is not None:
                # the scikit-learn ensemble in skops format (no pickle), for `botsift score
                # --check`; scoring never loads it
                (d / SKLEARN_NAME).write_bytes(art.sklearn_bytes)
                card.update(sklearn_file=SKLEARN_NAME, sklearn_sha256=sha256_bytes(art.sklearn_bytes))
            (d / CARD_NAME).write_text(json.dumps(card, indent=2, sort_keys=True, default=str))
            for name, text in art.extra_files.items():
                (d / name).write_text(text)
        if final.exists():
            raise BotsiftError(f"{final} appeared while writing: versions are immutable")
        tmp.rename(final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return final


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _connect(warehouse: Path, *, create: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse with the registry tables. Only ``register`` creates them (and the
    file): a command that fails on a warehouse with no registry (a mistyped path, another
    project's DuckDB file) must leave nothing in it."""
    con = connect_warehouse(warehouse, create=create)
    if create:
        ensure_registry_tables(con, (VERSIONS_TABLE, EVENTS_TABLE))
    elif not all(table_exists(con, *t.split(".")) for t in (VERSIONS_TABLE, EVENTS_TABLE)):
        con.close()
        raise BotsiftError(f"warehouse {warehouse} has no model registry (no version was ever "
                           "registered in it): train one with `botsift train`")
    return con


def _event(con: duckdb.DuckDBPyConnection, version: str, segment: str, frm: str | None,
           to: str, reason: str, at: datetime) -> None:
    nxt = con.execute(f"select coalesce(max(event_id), 0) + 1 from {EVENTS_TABLE}").fetchall()
    con.execute(f"insert into {EVENTS_TABLE} values (?, ?, ?, ?, ?, ?, ?)",
                [nxt[0][0], version, segment, frm, to, reason, at])


def _set_status(con: duckdb.DuckDBPyConnection, version: str, segment: str, frm: str, to: str,
                reason: str, at: datetime) -> None:
    promoted = ", promoted_at = ?" if to in ("active", "shadow") else ""
    params: list[Any] = [to, *([at] if promoted else []), version, segment]
    con.execute(f"update {VERSIONS_TABLE} set status = ?{promoted} "
                "where model_version = ? and segment = ?", params)
    _event(con, version, segment, frm, to, reason, at)


def _check_invariants(con: duckdb.DuckDBPyConnection) -> None:
    """One version per deployed status, holding a global row (region models fall back to it)."""
    bad = con.execute(f"""select status, list(distinct model_version order by model_version),
            count(*) filter (where segment = '{GLOBAL_SEGMENT}')
        from {VERSIONS_TABLE} where status in ('active', 'shadow') group by status
        having count(distinct model_version) > 1
            or count(*) filter (where segment = '{GLOBAL_SEGMENT}') <> 1""").fetchall()
    if bad:
        raise BotsiftError("registry invariant broken (one version per status, with one global "
                           f"row): {bad}")


def register(warehouse: Path, folder: Path) -> list[dict[str, Any]]:
    """Register a written version folder as ``candidate`` rows, one per segment.

    Raises
    ------
    BotsiftError
        If the folder has no card, a file does not match its sha256, or the version is
        registered already.
    """
    folder = Path(folder)
    version = folder.name
    cards = [folder / CARD_NAME, *sorted((folder / "segments").glob(f"*/{CARD_NAME}"))]
    if not cards[0].is_file():
        raise BotsiftError(f"{folder} holds no {CARD_NAME}: not a model version folder")
    at = _now()
    with _registry(warehouse, create=True) as con:
        if con.execute(f"select count(*) from {VERSIONS_TABLE} where model_version = ?",
                       [version]).fetchall()[0][0]:
            raise BotsiftError(f"model version {version} is registered already")
        con.execute("begin")
        rows = []
        for path in cards:
            card = json.loads(path.read_text())
            onnx_path = (path.parent / card["onnx_file"]).resolve()
            if sha256_file(onnx_path) != card["onnx_sha256"]:
                raise BotsiftError(f"{onnx_path} does not match the sha256 in its card")
            seg = card.get("segment", GLOBAL_SEGMENT)
            th = card.get("thresholds", {})
            con.execute(f"insert into {VERSIONS_TABLE} values (?, ?, 'candidate', ?, null, ?, ?, "
                        "?, ?, ?)", [version, seg, at, str(onnx_path), card["onnx_sha256"],
                                     th.get("action"), th.get("review"),
                                     json.dumps(card, default=str)])
            _event(con, version, seg, None, "candidate", "register", at)
            rows.append({"model_version": version, "segment": seg, "status": "candidate"})
        con.execute("commit")
        return rows


def withdraw(warehouse: Path, model_version: str, tables: Sequence[str] = ()) -> None:
    """Undo the registration of a version whose training failed after it was registered.

    Deletes its registry rows and events and its rows in ``tables`` (evaluation, drift
    reference), in one transaction. Only a version that is still a candidate everywhere can
    be withdrawn: one that was ever promoted is history.

    Raises
    ------
    BotsiftError
        If the version was promoted (or is unknown).
    """
    with _registry(warehouse) as con:
        statuses = set(_version_rows(con, model_version).values())
        if statuses != {"candidate"}:
            raise BotsiftError(f"model version {model_version} is {', '.join(sorted(statuses))}: "
                               "only a candidate is withdrawn")
        con.execute("begin")
        for table in (*tables, EVENTS_TABLE, VERSIONS_TABLE):
            if table_exists(con, *table.split(".")):
                con.execute(f"delete from {table} where model_version = ?", [model_version])
        con.execute("commit")
    log.info("model version %s withdrawn", model_version)


def list_versions(warehouse: Path) -> list[dict[str, Any]]:
    """All registered rows, newest version first (card left out); opens the warehouse
    read-only and creates nothing (no registry yet: no rows)."""
    con = connect_warehouse(warehouse, read_only=True)
    try:
        if not table_exists(con, *VERSIONS_TABLE.split(".")):
            return []
        return _listed(con)
    finally:
        con.close()


def _listed(con: duckdb.DuckDBPyConnection, version: str | None = None) -> list[dict[str, Any]]:
    """Registered rows (of ``version``, or all), as :func:`list_versions` returns them."""
    where = "" if version is None else "where model_version = ?"
    cur = con.execute(f"""select model_version, segment, status, registered_at, promoted_at,
        action_threshold, review_threshold, onnx_sha256 from {VERSIONS_TABLE} {where}
        order by model_version desc, segment = 'global' desc, segment""",
                      [] if version is None else [version])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _version_rows(con: duckdb.DuckDBPyConnection, version: str) -> dict[str, str]:
    rows = con.execute(f"select segment, status from {VERSIONS_TABLE} where model_version = ?",
                       [version]).fetchall()
    if not rows:
        raise BotsiftError(f"model version {version} is not registered: see `botsift models list`")
    return dict(rows)


def _verify_files(con: duckdb.DuckDBPyConnection, version: str, action: str) -> None:
    """Check every file of a version against the sha256 its registry row and card record.

    Run before a status change: promoting (or restoring) a version whose files are missing or
    changed would retire a working model for one the next ``dbt build`` refuses to load.
    """
    rows = con.execute(f"select segment, onnx_path, onnx_sha256, card from {VERSIONS_TABLE} "
                       "where model_version = ? order by segment", [version]).fetchall()
    for seg, onnx_path, onnx_sha, card_json in rows:
        card = json.loads(card_json) if card_json else {}
        files = [(Path(onnx_path), onnx_sha)]
        if card.get("sklearn_file"):
            files.append((Path(onnx_path).parent / card["sklearn_file"], card.get("sklearn_sha256")))
        for path, sha in files:
            if not path.is_file():
                raise BotsiftError(f"cannot {action} {version} ({seg}): {path} is missing; "
                                   "restore the artifacts folder (nothing was changed)")
            if sha256_file(path) != sha:
                raise BotsiftError(f"cannot {action} {version} ({seg}): {path} does not match "
                                   "its recorded sha256 (the file was changed; nothing was "
                                   "changed in the registry)")


def missed_precision_target(card: dict[str, Any]) -> bool:
    """Whether a model card's action threshold missed its precision target on validation."""
    return (card.get("thresholds") or {}).get("precision_target_met") is False


def _unmet_targets(con: duckdb.DuckDBPyConnection, version: str) -> list[str]:
    """Segments of a version whose action threshold missed its precision target on validation."""
    out = []
    for seg, card_json in con.execute(f"select segment, card from {VERSIONS_TABLE} "
                                      "where model_version = ? order by segment",
                                      [version]).fetchall():
        card = json.loads(card_json) if card_json else {}
        th = card.get("thresholds") or {}

        def num(key: str, th: dict = th) -> float:
            value = th.get(key)
            return float(value) if isinstance(value, int | float) else float("nan")

        if missed_precision_target(card):
            out.append(f"{seg}: precision {num('action_precision'):.3f} < target "
                       f"{num('precision_target'):.3f} at threshold {num('action'):.3g}")
    return out


def promote(warehouse: Path, model_version: str, to: str = "active", *,
            accept_unmet_target: bool = False) -> list[dict[str, Any]]:
    """Make a version ``active`` (or ``shadow``) for all its segments.

    Promoting retires every row of another version in that status, including segments the
    new version lacks (scoring then falls back to its global model): one version is active,
    and at most one is shadow. The version's files are checked against their sha256 first.

    A version whose action threshold missed the precision target on validation (training
    fell back to its most precise threshold, which on too few labels can flag most accounts)
    is refused as ``active`` unless ``accept_unmet_target``; as a shadow it only gets scored.

    Raises
    ------
    BotsiftError
        If the version is unknown, already in that status, active when ``to`` is shadow,
        ``to`` is not active/shadow, a file is missing or changed, or the target was missed.
    """
    if to not in ("active", "shadow"):
        raise BotsiftError(f"promote to {to!r}: use 'active' or 'shadow'")
    at = _now()
    with _registry(warehouse) as con:
        mine = _version_rows(con, model_version)
        if all(s == to for s in mine.values()):
            raise BotsiftError(f"model version {model_version} is {to} already")
        if to == "shadow" and "active" in mine.values():
            raise BotsiftError(
                f"model version {model_version} is active: making it shadow would leave no "
                "active model; promote another version to active (or roll back) first")
        unmet = _unmet_targets(con, model_version) if to == "active" else []
        if unmet and not accept_unmet_target:
            raise BotsiftError(
                f"model version {model_version} missed its precision target on validation "
                f"({'; '.join(unmet)}): its action threshold is not fit to act on; promote it "
                "as a shadow to watch it, retrain on more labels, or pass "
                "--accept-unmet-target")
        _verify_files(con, model_version, "promote")
        con.execute("begin")
        # every row of another version in that status, segments this one lacks included:
        # a region model of the old shadow left in shadow would score that region beside the
        # new shadow's global model
        others = con.execute(f"""select model_version, segment from {VERSIONS_TABLE}
            where status = ? and model_version <> ?""", [to, model_version]).fetchall()
        for v, seg in others:
            _set_status(con, v, seg, to, "retired", f"promote {model_version}", at)
        for seg, status in mine.items():
            if status != to:
                _set_status(con, model_version, seg, status, to, "promote", at)
        _check_invariants(con)
        con.execute("commit")
        # read in this connection: reopening the file after the commit could find it locked
        # by a dbt build and report a failure for a change that was made
        rows = _listed(con, model_version)
    log.info("model version %s is %s (%d segments)", model_version, to, len(mine))
    return rows


def retire(warehouse: Path, model_version: str, reason: str = "retire") -> list[dict[str, Any]]:
    """Retire a candidate or shadow version (all its segments); scoring stops using it.

    Raises
    ------
    BotsiftError
        If the version is unknown, retired already, or active (roll back or promote another
        version instead, so that a model stays active).
    """
    at = _now()
    with _registry(warehouse) as con:
        mine = _version_rows(con, model_version)
        if "active" in mine.values():
            raise BotsiftError(f"model version {model_version} is active: promote another "
                               "version or roll back instead of retiring it")
        if all(s == "retired" for s in mine.values()):
            raise BotsiftError(f"model version {model_version} is retired already")
        con.execute("begin")
        for seg, status in mine.items():
            if status != "retired":
                _set_status(con, model_version, seg, status, "retired", reason, at)
        con.execute("commit")
        rows = _listed(con, model_version)  # in this connection, as promote
    log.info("model version %s retired (%s)", model_version, reason)
    return rows


def rollback(warehouse: Path) -> str:
    """Re-activate the previously active version and retire the current one.

    Versions retired by an earlier rollback are skipped, so repeated rollbacks walk back
    through the promotion history.

    Returns
    -------
    str
        The version now active.

    Raises
    ------
    BotsiftError
        If nothing is active or no earlier active version exists.
    """
    at = _now()
    with _registry(warehouse) as con:
        cur = con.execute(f"""select model_version from {VERSIONS_TABLE}
            where status = 'active' and segment = 'global'""").fetchall()
        if not cur:
            raise BotsiftError("no active model version to roll back from")
        current = cur[0][0]
        prev = con.execute(f"""
            with last_event as (
                select model_version, arg_max(reason, event_id) as reason,
                       arg_max(to_status, event_id) as to_status
                from {EVENTS_TABLE} where segment = 'global' group by model_version),
            activations as (
                select model_version, max(event_id) as last_activation from {EVENTS_TABLE}
                where segment = 'global' and to_status = 'active' group by model_version)
            select a.model_version from activations as a
            inner join last_event as e on e.model_version = a.model_version
            where a.model_version <> ? and not (e.to_status = 'retired' and e.reason = 'rollback')
            order by a.last_activation desc limit 1""", [current]).fetchall()
        if not prev:
            raise BotsiftError(f"no earlier active version to roll back to from {current}")
        target = prev[0][0]
        _verify_files(con, target, "roll back to")
        con.execute("begin")
        for v, seg in con.execute(f"""select model_version, segment from {VERSIONS_TABLE}
                                     where status = 'active'""").fetchall():
            _set_status(con, v, seg, "active", "retired", "rollback", at)
        for seg, status in _version_rows(con, target).items():
            _set_status(con, target, seg, status, "active", "rollback restore", at)
        _check_invariants(con)
        con.execute("commit")
    log.info("rolled back: %s retired, %s active", current, target)
    return str(target)


@contextlib.contextmanager
def _registry(warehouse: Path, *, create: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse with the registry tables, for one change (:func:`_connect`): an
    exception rolls back the transaction it left open; the connection is closed either way."""
    con = _connect(warehouse, create=create)
    try:
        yield con
    except Exception:
        _rollback_quietly(con)
        raise
    finally:
        con.close()


def _rollback_quietly(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):  # no transaction open: nothing to undo
        con.execute("rollback")


def load_active(warehouse: Path, segment: str = GLOBAL_SEGMENT, *,
                fallback_to_global: bool = True) -> ActiveModel:
    """Return the active model of ``segment`` after checking its file's sha256.

    Parameters
    ----------
    fallback_to_global : bool
        When the segment has no active model of its own, return the global one.

    Raises
    ------
    BotsiftError
        If no model is active, the file is missing, or its bytes do not match the registry.
    """
    if not Path(warehouse).is_file():
        raise BotsiftError(f"warehouse {warehouse} not found")
    con = _connect(warehouse)
    try:
        segs = [segment, GLOBAL_SEGMENT] if fallback_to_global else [segment]
        row = None
        for seg in dict.fromkeys(segs):
            found = con.execute(f"""select model_version, segment, onnx_path, onnx_sha256, card
                from {VERSIONS_TABLE} where status = 'active' and segment = ?""", [seg]).fetchall()
            if found:
                row = found[0]
                break
    finally:
        con.close()
    if row is None:
        raise BotsiftError(f"no active model for segment {segment!r}: train one and run "
                           "`botsift models promote VERSION`")
    version, seg, path, sha, card = row
    p = Path(path)
    if not p.is_file():
        raise BotsiftError(f"{p} (model {version}, {seg}) is missing: restore the artifacts "
                           "folder or roll back")
    if sha256_file(p) != sha:
        raise BotsiftError(f"{p} does not match its registered sha256: the file was changed; "
                           "do not score with it (restore it or roll back)")
    return ActiveModel(version, seg, p, json.loads(card))
