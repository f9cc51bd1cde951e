"""Synthetic ``marts.ml_training_examples`` tables and their manifest, for tests and benchmarks.

They follow the contract of the dbt model (column roles in ``meta.role``) without running
dbt: bots come in botnets (``group_id``) that share one split, a share of bots look human,
features hold NULLs, and negatives may be down-sampled (``sampling_rate`` < 1).
"""
from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

REGIONS = ("na", "eu", "latam", "apac", "africa")
REGION_SHARE = (0.35, 0.25, 0.15, 0.15, 0.10)
AGE_BANDS = ("0-7d", "8-30d", "31-365d", "1y+")
CLIENTS = ("android", "ios", "web", "api")


def feature_names(n_features: int) -> list[str]:
    """Feature column names, in manifest order."""
    stems = ["count_posts", "count_logins", "count_follows", "count_likes", "count_replies",
             "count_failed_logins", "count_devices", "count_ips"]
    names = []
    for i in range(n_features):
        if i < len(stems):
            names.append(f"{stems[i]}_7d")
        else:
            names.append(f"feature_{i:02d}_ratio")
    return names


def manifest_for(features: list[str]) -> dict:
    """A minimal dbt manifest with the column roles of ``ml_training_examples``."""
    cols = {"account_id": "key", "as_of_date": "key", "region": "segment",
            "account_age_band": "segment", "signup_client": "segment", "label": "label",
            "label_source": "info", "split": "split", "group_id": "group",
            "sampling_rate": "weight"}
    columns = {c: {"name": c, "meta": {"role": r}} for c, r in cols.items()}
    columns |= {f: {"name": f, "meta": {"role": "feature"}} for f in features}
    return {"nodes": {"model.botsift.ml_training_examples": {"columns": columns}}}


def make_training_examples(n_rows: int = 6000, *, positives_share: float = 0.03,
                           negative_rate: float = 1.0, n_features: int = 30,
                           separation: float = 1.5, seed: int = 0) -> pa.Table:
    """Build a synthetic training table.

    Parameters
    ----------
    n_rows : int
        Rows in the table (after down-sampling).
    positives_share : float
        Share of bots in the population before down-sampling.
    negative_rate : float
        Share of humans kept (the ``sampling_rate`` of negative rows).
    separation : float
        Scale of the bot/human shift in informative features.
    """
    rng = np.random.default_rng(seed)
    ps, r = positives_share, negative_rate
    n_pos = max(30, round(n_rows * ps / (ps + (1 - ps) * r)))
    n_neg = n_rows - n_pos
    d = n_features
    # Botnets: 3-60 accounts each; a botnet shares a signature (shift) and one split.
    sizes = []
    while sum(sizes) < n_pos:
        sizes.append(int(rng.integers(2, 40)))
    sizes[-1] -= sum(sizes) - n_pos
    if sizes[-1] <= 0:
        sizes.pop()
        sizes[-1] += n_pos - sum(sizes)
    n_groups = len(sizes)
    group_of_bot = np.repeat(np.arange(n_groups), sizes)
    informative = rng.choice(d, size=max(4, d // 3), replace=False)
    center = np.zeros((n_groups, d))
    core = informative[:3]  # every botnet is somewhat off here (volume, failed logins, ...)
    for gi in range(n_groups):
        center[gi, core] = separation * rng.uniform(0.5, 1.2, size=len(core))
        dims = rng.choice(informative[3:], size=max(2, len(informative) // 2), replace=False)
        center[gi, dims] = separation * rng.uniform(0.8, 2.0, size=len(dims)) \
            * rng.choice([-1, 1], p=[0.2, 0.8], size=len(dims))
    hard = rng.random(n_groups) < 0.15  # botnets that look human
    center[hard] *= 0.15
    Xb = center[group_of_bot] + rng.normal(size=(n_pos, d)) * 0.9
    Xh = rng.normal(size=(n_neg, d))
    # A few humans look like bots: label noise in feature space.
    odd = rng.random(n_neg) < 0.004
    Xh[odd] += center[rng.integers(0, n_groups, odd.sum())] * 0.8
    X = np.vstack([Xb, Xh])
    y = np.r_[np.ones(n_pos, dtype=np.int32), np.zeros(n_neg, dtype=np.int32)]

    region_bot = rng.choice(len(REGIONS), size=n_groups, p=REGION_SHARE)
    region = np.r_[region_bot[group_of_bot], rng.choice(len(REGIONS), size=n_neg, p=REGION_SHARE)]
    age = np.r_[rng.choice(4, size=n_pos, p=[0.4, 0.3, 0.2, 0.1]),
                rng.choice(4, size=n_neg, p=[0.05, 0.1, 0.35, 0.5])]
    client = np.r_[rng.choice(4, size=n_pos, p=[0.2, 0.1, 0.3, 0.4]),
                   rng.choice(4, size=n_neg, p=[0.45, 0.35, 0.18, 0.02])]
    X[:, 0] += np.where(age == 0, 0.4, 0.0)

    # Exact 60/20/20 shares of botnets, so every split holds bots even with few botnets.
    split_group = rng.permutation(np.floor(np.arange(n_groups) / n_groups * 5).astype(int))
    split_group = np.array([0, 0, 0, 1, 2])[split_group]
    split_idx = np.r_[split_group[group_of_bot], rng.choice(3, size=n_neg, p=[0.6, 0.2, 0.2])]
    splits = np.array(["train", "validation", "test"], dtype=object)[split_idx]
    group_id = np.r_[np.array([f"botnet-{g:05d}" for g in group_of_bot], dtype=object),
                     np.full(n_neg, None, dtype=object)]
    rate = np.r_[np.ones(n_pos), np.full(n_neg, r)]
    perm = rng.permutation(n_rows)
    start = date(2026, 10, 1)
    as_of = [start + timedelta(days=int(k)) for k in rng.integers(0, 28, n_rows)]

    cols: dict[str, pa.Array] = {
        "account_id": pa.array(np.arange(1, n_rows + 1, dtype=np.int64)),
        "as_of_date": pa.array(as_of, pa.date32()),
        "region": pa.array(np.array(REGIONS, dtype=object)[region[perm]]),
        "account_age_band": pa.array(np.array(AGE_BANDS, dtype=object)[age[perm]]),
        "signup_client": pa.array(np.array(CLIENTS, dtype=object)[client[perm]]),
        "label": pa.array(y[perm], pa.int32()),
        "label_source": pa.array(np.where(rng.random(n_rows) < 0.8, "ops_review", "heuristic")),
        "split": pa.array(splits[perm]),
        "group_id": pa.array(group_id[perm], pa.string()),
        "sampling_rate": pa.array(rate[perm], pa.float64()),
    }
    names = feature_names(d)
    Xp = X[perm]
    for j, name in enumerate(names):
        col = Xp[:, j]
        null = rng.random(n_rows) < (0.05 if j % 3 == 0 else 0.0)
        if name.startswith("count_"):
            vals = np.round(np.exp(1.5 + 0.7 * col)).astype(np.int64)
            cols[name] = pa.array(vals, pa.int64(), mask=null)
        else:
            cols[name] = pa.array(col, pa.float64(), mask=null)
    return pa.table(cols)


def write_training_table(warehouse: Path, table: pa.Table) -> None:
    """Write ``table`` as ``marts.ml_training_examples`` into a DuckDB file."""
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("create schema if not exists marts")
        con.register("examples_arrow", table)
        con.execute("create or replace table marts.ml_training_examples as "
                    "select * from examples_arrow")
        con.unregister("examples_arrow")
    finally:
        con.close()


def build_project(root: Path, table: pa.Table) -> tuple[Path, dict]:
    """A temp project: ``dbt_project.yml``, ``target/manifest.json``, warehouse with the table.

    Returns
    -------
    (warehouse path, manifest dict)
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / "dbt_project.yml").write_text("name: botsift\n")
    (root / "models").mkdir(exist_ok=True)
    feats = [c for c in table.column_names if c.startswith(("count_", "feature_"))]
    manifest = manifest_for(feats)
    (root / "target").mkdir(exist_ok=True)
    (root / "target" / "manifest.json").write_text(json.dumps(manifest))
    wh = root / "warehouse" / "botsift.duckdb"
    wh.parent.mkdir(exist_ok=True)
    write_training_table(wh, table)
    return wh, manifest
