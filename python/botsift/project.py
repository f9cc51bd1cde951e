"""Where things are: the dbt project, the warehouse file, the artifacts folder; running dbt."""
from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from botsift.errors import BotsiftError

if TYPE_CHECKING:
    import duckdb

__all__ = ["project_dir", "warehouse_path", "artifacts_dir", "expectations_dir", "dbt_env",
           "run_dbt", "connect_warehouse", "table_exists", "warn_if_built"]

log = logging.getLogger(__name__)


def project_dir(start: Path | None = None) -> Path:
    """Return the dbt project root (the folder holding ``dbt_project.yml``).

    ``BOTSIFT_PROJECT_DIR`` wins; otherwise the current directory and its parents are searched.

    Raises
    ------
    BotsiftError
        If no ``dbt_project.yml`` is found.
    """
    env = os.environ.get("BOTSIFT_PROJECT_DIR")
    if env:
        p = Path(env).resolve()
        if not (p / "dbt_project.yml").is_file():
            raise BotsiftError(f"BOTSIFT_PROJECT_DIR={env} holds no dbt_project.yml")
        return p
    here = (start or Path.cwd()).resolve()
    for p in (here, *here.parents):
        if (p / "dbt_project.yml").is_file() and (p / "models").is_dir():
            return p
    raise BotsiftError(
        f"no botsift dbt project found at or above {here}: run from the repository "
        "or set BOTSIFT_PROJECT_DIR"
    )


def warehouse_path(root: Path | None = None) -> Path:
    """Return the DuckDB warehouse file: ``BOTSIFT_WAREHOUSE`` or ``warehouse/botsift.duckdb``."""
    env = os.environ.get("BOTSIFT_WAREHOUSE")
    if env:
        p = Path(env)
        return p if p.is_absolute() else (root or project_dir()) / p
    return (root or project_dir()) / "warehouse" / "botsift.duckdb"


def connect_warehouse(warehouse: Path, *, read_only: bool = False,
                      create: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB warehouse, turning what a user can cause into one clear error.

    Parameters
    ----------
    warehouse : Path
        The DuckDB file.
    read_only : bool
        Open without writing.
    create : bool
        Create the file (and its folder) if missing: only for writing raw tables into a new
        warehouse (simulate, load-accounts) and registering a version. Every other command
        needs a built warehouse, and a mistyped path must not become a new, empty one.

    Raises
    ------
    BotsiftError
        If the warehouse does not exist (and ``create`` is not set), another process holds
        the file's lock (DuckDB allows one writing process, and ``dbt build`` holds the lock
        until it ends), or DuckDB cannot open the file.
    """
    import duckdb

    warehouse = Path(warehouse)
    if warehouse.is_dir():
        raise BotsiftError(f"warehouse {warehouse} is a folder: set BOTSIFT_WAREHOUSE (or "
                           "--warehouse) to a .duckdb file, e.g. warehouse/botsift.duckdb")
    if create and not read_only:
        try:
            warehouse.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BotsiftError(f"cannot create the warehouse's folder {warehouse.parent}: "
                               f"{exc.strerror or exc}") from None
    elif not warehouse.is_file():
        raise BotsiftError(f"warehouse {warehouse} not found: run `botsift simulate` (or "
                           "`botsift load-accounts`) and `dbt build` first, or set BOTSIFT_WAREHOUSE")
    if warehouse.is_file() and warehouse.stat().st_size >= 12:
        with warehouse.open("rb") as f:
            if f.read(12)[8:] != b"DUCK":  # DuckDB's magic bytes; DuckDB would open a CSV too
                raise BotsiftError(f"{warehouse} is not a DuckDB warehouse file: set "
                                   "BOTSIFT_WAREHOUSE (or --warehouse) to the .duckdb file")
    try:
        return duckdb.connect(str(warehouse), read_only=read_only)
    except duckdb.IOException as exc:
        # DuckDB: 'Could not set lock on file ...: Conflicting lock is held in ... (PID n)';
        # a corrupt file's message says "block", so the word "lock" alone does not tell
        if "could not set lock" not in str(exc).lower():
            raise BotsiftError(f"cannot open warehouse {warehouse}: {exc}") from None
        pid = re.search(r"\(PID (\d+)\)", str(exc))
        holder = f" (PID {pid.group(1)})" if pid else ""
        raise BotsiftError(
            f"warehouse {warehouse} is locked by another process{holder}: DuckDB lets one "
            "process at a time open a file for writing, and a `dbt build` holds the lock until "
            "it finishes; wait for it (or close the notebook or shell using the file) and run "
            "this again") from None
    except duckdb.Error as exc:
        raise BotsiftError(f"cannot open warehouse {warehouse}: {exc}") from None


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether the warehouse on ``con`` has the table ``schema.table``."""
    return bool(con.execute(
        "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?",
        [schema, table]).fetchall()[0][0])


def warn_if_built(con: duckdb.DuckDBPyConnection, action: str) -> bool:
    """Warn when ``action`` replaced the raw tables of a warehouse dbt has already built.

    The incremental models (``fct_account_features``, ``ml_bot_scores``) keep what earlier
    builds wrote, so after the raw data is replaced only a full refresh rebuilds them from
    it. Returns whether the warning was given.
    """
    built = table_exists(con, "marts", "fct_account_features")
    if built:
        log.warning("%s replaced the raw tables of a warehouse dbt has built: run `dbt build "
                    "--full-refresh` next (a plain `dbt build` keeps the previous data in the "
                    "incremental models fct_account_features and ml_bot_scores)", action)
    return built


def artifacts_dir(root: Path | None = None) -> Path:
    """Return the model registry folder: ``BOTSIFT_ARTIFACTS`` or ``artifacts/``."""
    env = os.environ.get("BOTSIFT_ARTIFACTS")
    if env:
        p = Path(env)
        return p if p.is_absolute() else (root or project_dir()) / p
    return (root or project_dir()) / "artifacts"


def expectations_dir(root: Path | None = None) -> Path:
    """Return the Great Expectations project root: ``BOTSIFT_EXPECTATIONS_DIR`` or ``expectations/``."""
    env = os.environ.get("BOTSIFT_EXPECTATIONS_DIR")
    if env:
        p = Path(env)
        return p if p.is_absolute() else (root or project_dir()) / p
    return (root or project_dir()) / "expectations"


def dbt_env(root: Path | None = None) -> dict[str, str]:
    """Return the environment dbt runs with: absolute warehouse path, profiles dir, no tracking."""
    root = root or project_dir()
    env = dict(os.environ)
    env["BOTSIFT_WAREHOUSE"] = str(warehouse_path(root))
    env["BOTSIFT_ARTIFACTS"] = str(artifacts_dir(root))
    env["BOTSIFT_PROJECT_DIR"] = str(root)
    env["BOTSIFT_EXPECTATIONS_DIR"] = str(expectations_dir(root))
    env.setdefault("DBT_PROFILES_DIR", str(root / "profiles"))
    env["DO_NOT_TRACK"] = "1"
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


def run_dbt(args: list[str], root: Path | None = None, *, quiet: bool = False) -> None:
    """Run one dbt command in a subprocess against the project and its warehouse.

    A subprocess (not the in-process runner) so that dbt's DuckDB connection and write lock
    are released when it returns.

    Raises
    ------
    BotsiftError
        If dbt exits non-zero.
    """
    root = root or project_dir()
    warehouse_path(root).parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-c", "from dbt.cli.main import cli; cli()", *args,
           "--project-dir", str(root)]
    log.info("dbt %s", " ".join(args))
    out = subprocess.run(cmd, cwd=root, env=dbt_env(root),
                         capture_output=quiet, text=True, check=False)
    if out.returncode != 0:
        tail = ""
        if quiet:
            lines = [ln for ln in (out.stdout + out.stderr).splitlines() if ln.strip()]
            tail = "\n" + "\n".join(lines[-15:])
        raise BotsiftError(f"dbt {args[0]} failed (exit {out.returncode}){tail}")
