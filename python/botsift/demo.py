"""``botsift demo``: the whole pipeline on a small simulated platform, end to end."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import duckdb

from botsift.project import project_dir, run_dbt, warehouse_path

__all__ = ["run_demo", "summarize_warehouse"]

log = logging.getLogger(__name__)


def summarize_warehouse(path: Path) -> list[tuple[str, str, int]]:
    """Return (schema, table, rows) for every table in the warehouse, raw first."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = con.sql(
            "select schema_name, table_name, estimated_size from duckdb_tables() "
            "order by case schema_name when 'raw' then 0 when 'staging' then 1 "
            "when 'intermediate' then 2 else 3 end, schema_name, table_name"
        ).fetchall()
        return [(s, t, int(con.sql(f'select count(*) from "{s}"."{t}"').fetchone()[0]))  # type: ignore[index]
                for s, t, _ in tables]
    finally:
        con.close()


def run_demo(n_accounts: int = 20_000, days: int = 30, seed: int = 42) -> Path:
    """Simulate a platform, build the warehouse with dbt and report what was built.

    Returns
    -------
    Path
        The warehouse file.
    """
    from botsift.simulate import SimulationConfig, simulate_platform

    root = project_dir()
    wh = warehouse_path(root)
    t0 = time.perf_counter()
    log.info("simulating %s accounts x %s days into %s", f"{n_accounts:,}", days, wh)
    if wh.exists():
        wh.unlink()
    simulate_platform(SimulationConfig(n_accounts=n_accounts, days=days, seed=seed), wh)
    log.info("running dbt build")
    run_dbt(["build", "--selector", "training"], root)
    elapsed = time.perf_counter() - t0
    rows = summarize_warehouse(wh)
    log.info("built in %.1f s; warehouse: %s", elapsed, wh)
    for schema, table, n in rows:
        log.info("  %-14s %-40s %12s rows", schema, table, f"{n:,}")
    return wh
