"""Raw platform tables: the contract between loaders and the dbt staging layer.

Loaders (``botsift simulate``, ``botsift load-accounts``) write these tables into the
warehouse schema ``raw`` (dbt var ``raw_schema``), with the column names production
exports use. Staging (``models/staging``) types, renames, hashes and quarantines them.
Every raw table carries ``_loaded_at``, the load time that source freshness reads.
"""
from __future__ import annotations

import pyarrow as pa

__all__ = ["RAW_TABLES", "RAW_SCHEMA", "REGIONS", "SIGNUP_CLIENTS", "LOGIN_RESULTS",
           "INTERACTION_ACTIONS", "REVIEW_DECISIONS", "raw_ddl"]

RAW_SCHEMA = "raw"

REGIONS: dict[str, int] = {"na": -5, "eu": 1, "latam": -3, "apac": 8, "africa": 2}
"""Region code to UTC offset in hours (mirrors ``seeds/region_timezones.csv``)."""
SIGNUP_CLIENTS = ("android", "ios", "web", "api")
LOGIN_RESULTS = ("success", "failed_password", "failed_captcha", "failed_2fa")
INTERACTION_ACTIONS = ("like", "repost", "reply")
REVIEW_DECISIONS = ("suspended_spam", "suspended_fake_followers", "cleared", "warned")

_TS = pa.timestamp("us")

RAW_TABLES: dict[str, pa.Schema] = {
    "accounts": pa.schema([
        ("id", pa.int64()),
        ("created_at", _TS),
        ("region", pa.string()),
        ("signup_ip", pa.string()),
        ("signup_device", pa.string()),
        ("signup_client", pa.string()),
        ("screen_name", pa.string()),
        ("name", pa.string()),
        ("description", pa.string()),
        ("default_profile_image", pa.bool_()),
        ("verified", pa.bool_()),
        ("lang", pa.string()),
        ("url", pa.string()),
        ("followers_count", pa.int64()),
        ("friends_count", pa.int64()),
        ("statuses_count", pa.int64()),
        ("favourites_count", pa.int64()),
        ("listed_count", pa.int64()),
        ("exported_at", _TS),
        ("_loaded_at", _TS),
    ]),
    "posts": pa.schema([
        ("id", pa.int64()),
        ("account_id", pa.int64()),
        ("created_at", _TS),
        ("text", pa.string()),
        ("in_reply_to_post_id", pa.int64()),
        ("mentioned_account_ids", pa.list_(pa.int64())),
        ("_loaded_at", _TS),
    ]),
    "logins": pa.schema([
        ("id", pa.int64()),
        ("account_id", pa.int64()),
        ("attempted_at", _TS),
        ("ip", pa.string()),
        ("device_id", pa.string()),
        ("result", pa.string()),
        ("_loaded_at", _TS),
    ]),
    "follows": pa.schema([
        ("id", pa.int64()),
        ("follower_id", pa.int64()),
        ("followee_id", pa.int64()),
        ("created_at", _TS),
        ("_loaded_at", _TS),
    ]),
    "interactions": pa.schema([
        ("id", pa.int64()),
        ("account_id", pa.int64()),
        ("post_id", pa.int64()),
        ("action", pa.string()),
        ("created_at", _TS),
        ("_loaded_at", _TS),
    ]),
    "ops_reviews": pa.schema([
        ("id", pa.int64()),
        ("account_id", pa.int64()),
        ("reviewed_at", _TS),
        ("decision", pa.string()),
        ("note", pa.string()),
        ("_loaded_at", _TS),
    ]),
}

_DUCK_TYPES = {
    pa.int64(): "BIGINT",
    pa.string(): "VARCHAR",
    pa.bool_(): "BOOLEAN",
    _TS: "TIMESTAMP",
    pa.list_(pa.int64()): "BIGINT[]",
}


def raw_ddl(table: str, schema: str = RAW_SCHEMA) -> str:
    """Return the DuckDB ``CREATE TABLE IF NOT EXISTS`` statement for one raw table.

    Parameters
    ----------
    table : str
        A key of :data:`RAW_TABLES`.
    schema : str
        The warehouse schema raw tables live in.

    Returns
    -------
    str
        The DDL statement.
    """
    cols = ", ".join(f'"{f.name}" {_DUCK_TYPES[f.type]}' for f in RAW_TABLES[table])
    return f"create table if not exists {schema}.{table} ({cols})"
