"""DDL of the warehouse registry schema, in one place.

Python writes these tables (training registers versions, ``build_reference`` writes the drift
references); dbt reads them as sources. ``macros/create_registry_tables.sql`` creates the
same tables empty on dbt's on-run-start, so a fresh warehouse builds before the first
training; ``tests/python/unit/test_registry_tables.py`` checks that its DuckDB DDL gives the
same columns, types, nullability and keys as this module.
"""
from __future__ import annotations

import duckdb

__all__ = ["REGISTRY_DDL", "ensure_registry_tables"]

REGISTRY_DDL: dict[str, str] = {
    "registry.model_versions": """(
        model_version varchar not null, segment varchar not null, status varchar not null,
        registered_at timestamp not null, promoted_at timestamp, onnx_path varchar not null,
        onnx_sha256 varchar not null, action_threshold double, review_threshold double,
        card json, primary key (model_version, segment))""",
    "registry.model_events": """(
        event_id bigint not null, model_version varchar not null, segment varchar not null,
        from_status varchar, to_status varchar not null, reason varchar not null,
        event_at timestamp not null)""",
    "registry.feature_reference": """(
        model_version varchar not null, feature varchar not null, is_score boolean not null,
        reference_start_date date, reference_end_date date, n_rows bigint not null,
        null_share double not null, mean double, stdev double, min_value double,
        max_value double, psi_noise double not null, js_noise double not null,
        kl_noise double not null, created_at timestamp not null,
        primary key (model_version, feature))""",
    "registry.feature_reference_bins": """(
        model_version varchar not null, feature varchar not null, bin_index integer not null,
        bin_kind varchar not null, lower double, upper double,
        reference_share double not null, primary key (model_version, feature, bin_index))""",
}


def ensure_registry_tables(con: duckdb.DuckDBPyConnection, tables: tuple[str, ...] | None = None) -> None:
    """Create the registry schema and ``tables`` (default: all of them) if they do not exist."""
    con.execute("create schema if not exists registry")
    for name in tables or tuple(REGISTRY_DDL):
        con.execute(f"create table if not exists {name} {REGISTRY_DDL[name]}")
