"""Training examples: read ``marts.ml_training_examples`` into float32 matrices by column role.

The feature order is the manifest's column order for ``ml_training_examples`` (roles read with
:func:`botsift.manifest.column_roles`); that order is the ONNX input order.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from botsift.errors import BotsiftError
from botsift.manifest import training_roles
from botsift.project import connect_warehouse

__all__ = ["TRAINING_MODEL", "TRAINING_TABLE", "SPLITS", "TrainingExamples",
           "load_training_examples"]

log = logging.getLogger(__name__)

TRAINING_MODEL = "ml_training_examples"
TRAINING_TABLE = "marts.ml_training_examples"
SPLITS = ("train", "validation", "test")


@dataclass
class TrainingExamples:
    """Training examples as arrays, one row per account per as-of date.

    ``weight`` is the inverse of the row's sampling rate (how many population rows it stands
    for); metrics and thresholds use it so that they estimate population figures.
    """

    features: list[str]
    X: np.ndarray
    y: np.ndarray
    split: np.ndarray
    group: np.ndarray
    sampling_rate: np.ndarray
    segments: dict[str, np.ndarray]
    account_id: np.ndarray
    snapshot: date | None
    label_source: np.ndarray | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def weight(self) -> np.ndarray:
        """Inverse sampling rate: the number of population rows each row stands for."""
        return 1.0 / self.sampling_rate

    def mask(self, split: str) -> np.ndarray:
        """Boolean mask of the rows of one split."""
        return self.split == split

    def subset(self, mask: np.ndarray) -> TrainingExamples:
        """Return the rows selected by ``mask`` (a boolean array)."""
        return TrainingExamples(
            features=self.features, X=self.X[mask], y=self.y[mask], split=self.split[mask],
            group=self.group[mask], sampling_rate=self.sampling_rate[mask],
            segments={k: v[mask] for k, v in self.segments.items()},
            account_id=self.account_id[mask], snapshot=self.snapshot,
            label_source=None if self.label_source is None else self.label_source[mask],
            extra=self.extra,
        )

    def select_features(self, features: list[str]) -> TrainingExamples:
        """Return the same rows with only ``features`` (kept in this table's column order)."""
        unknown = [f for f in features if f not in self.features]
        if unknown:
            raise BotsiftError(f"unknown features {unknown}")
        keep = [f for f in self.features if f in features]
        idx = [self.features.index(f) for f in keep]
        types = dict(self.extra.get("feature_types", {}))  # type: ignore[call-overload]
        extra = {**self.extra, "feature_types": {f: types[f] for f in keep if f in types}}
        return TrainingExamples(
            features=keep, X=np.ascontiguousarray(self.X[:, idx]), y=self.y, split=self.split,
            group=self.group, sampling_rate=self.sampling_rate, segments=self.segments,
            account_id=self.account_id, snapshot=self.snapshot,
            label_source=self.label_source, extra=extra,
        )

    def counts(self) -> dict[str, dict[str, int]]:
        """Row counts per split and class: ``{split: {"positives": n, "negatives": n}}``."""
        out: dict[str, dict[str, int]] = {}
        for s in SPLITS:
            m = self.split == s
            pos = int(self.y[m].sum())
            out[s] = {"rows": int(m.sum()), "positives": pos, "negatives": int(m.sum()) - pos}
        return out


def _one(roles: dict[str, list[str]], role: str) -> str:
    cols = roles.get(role) or []
    if len(cols) != 1:
        raise BotsiftError(
            f"{TRAINING_MODEL} must declare exactly one column with meta role {role!r}, "
            f"found {cols or 'none'}: fix its YAML and run `dbt parse`"
        )
    return cols[0]


def _as_float32(values: np.ndarray, name: str) -> np.ndarray:
    if np.ma.isMaskedArray(values):
        out = np.ma.filled(np.ma.asarray(values).astype(np.float64), np.nan)
    else:
        out = np.asarray(values, dtype=np.float64)
    if np.isinf(out).any():
        raise BotsiftError(
            f"feature {name} holds infinite values: the model input contract is finite or "
            "NULL; fix the feature's SQL (for example nullif the denominator)"
        )
    return out.astype(np.float32)


def _as_str(values: np.ndarray) -> np.ndarray:
    """Strings as an object array; NULL as "" (masked arrays fill with "?" otherwise)."""
    mask = np.ma.getmaskarray(values) if np.ma.isMaskedArray(values) else None
    data = np.ma.getdata(values) if mask is not None else values
    out = np.array(["" if v is None else str(v) for v in data], dtype=object)
    if mask is not None:
        out[mask] = ""
    return out


def load_training_examples(warehouse: Path, manifest: dict, *,
                           label_sources: list[str] | None = None) -> TrainingExamples:
    """Read ``marts.ml_training_examples`` and check it can train a model.

    Parameters
    ----------
    warehouse : Path
        The DuckDB warehouse file.
    manifest : dict
        The loaded dbt manifest; column roles come from it.
    label_sources : list of str, optional
        Keep only rows whose ``label_source`` is one of these.

    Returns
    -------
    TrainingExamples
        Features as a float32 matrix in manifest order (NULL as NaN) and the other roles.

    Raises
    ------
    BotsiftError
        If the warehouse or table is missing, a role column is missing, the table (after
        filtering) is empty, a split is missing, or a split holds one class only.
    """
    roles = training_roles(manifest)
    features = roles["feature"]
    label, split = _one(roles, "label"), _one(roles, "split")
    group, weight = _one(roles, "group"), _one(roles, "weight")
    keys = roles["key"]
    account = next((k for k in keys if k.endswith("account_id")), None)
    as_of = next((k for k in keys if k.endswith("_date")), None)
    if account is None:
        raise BotsiftError(f"{TRAINING_MODEL} declares no key column named *account_id")
    info = roles["info"]
    source_col = "label_source" if "label_source" in info else None
    if label_sources and source_col is None:
        raise BotsiftError(f"{TRAINING_MODEL} has no info column label_source to filter on")

    cols = [*keys, *roles["segment"], label, split, group, weight, *features]
    if source_col:
        cols.append(source_col)
    cols = list(dict.fromkeys(cols))
    select = ", ".join(f'"{c}"' for c in cols)
    where, params = "", []
    if label_sources:
        where = f' where "{source_col}" in ({", ".join("?" for _ in label_sources)})'
        params = list(label_sources)
    con = connect_warehouse(warehouse, read_only=True)
    try:
        exists = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'marts' and table_name = ?", [TRAINING_MODEL]).fetchall()[0][0]
        if not exists:
            raise BotsiftError(f"table {TRAINING_TABLE} not found in {warehouse}: run "
                               "`dbt build --select +ml_training_examples` first")
        column_types = dict(con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'marts' and table_name = ?", [TRAINING_MODEL]).fetchall())
        present = set(column_types)
        missing = [c for c in cols if c not in present]
        if missing:
            raise BotsiftError(f"{TRAINING_TABLE} lacks columns {missing} that the manifest "
                               "declares: rebuild it with `dbt build`")
        data = con.execute(
            f"select {select} from {TRAINING_TABLE}{where} order by \"{account}\""
            + (f', "{as_of}"' if as_of else ""), params).fetchnumpy()
        snapshot = (con.execute(f'select max("{as_of}") from {TRAINING_TABLE}{where}', params)
                    .fetchall()[0][0] if as_of else None)
    finally:
        con.close()

    n = len(data[label])
    if n == 0:
        hint = f" with label_source in {label_sources}" if label_sources else ""
        raise BotsiftError(f"{TRAINING_TABLE} has no rows{hint}: nothing to train on")
    y_raw = np.ma.asarray(data[label])
    if np.ma.is_masked(y_raw) or not np.isin(np.asarray(y_raw), (0, 1)).all():
        raise BotsiftError(f"{TRAINING_TABLE}.{label} must be 0 or 1 on every row")
    y = np.asarray(y_raw, dtype=np.int64)
    splits = _as_str(data[split])
    bad = sorted(set(splits) - set(SPLITS))
    if bad:
        raise BotsiftError(f"{TRAINING_TABLE}.{split} holds {bad}; expected {list(SPLITS)}")
    for s in SPLITS:
        ys = y[splits == s]
        if ys.size == 0:
            raise BotsiftError(f"{TRAINING_TABLE} has no rows in split {s!r}")
        if ys.min() == ys.max():
            cls = "positive" if ys[0] == 1 else "negative"
            raise BotsiftError(
                f"{TRAINING_TABLE} split {s!r} holds one class only ({ys.size} {cls} rows): "
                "a classifier needs bots and humans in every split; check the labels")
    rate = np.ma.filled(np.ma.asarray(data[weight]).astype(np.float64), 1.0)
    if not ((rate > 0) & (rate <= 1)).all():
        raise BotsiftError(f"{TRAINING_TABLE}.{weight} must be in (0, 1]")
    account_id = np.asarray(data[account])
    groups = _as_str(data[group])
    # Rows without a botnet cluster are their own group.
    lone = groups == ""
    groups[lone] = np.array([f"account:{a}" for a in account_id[lone]], dtype=object)
    X = np.column_stack([_as_float32(data[f], f) for f in features]).astype(np.float32)
    leaking = _groups_across_splits(groups, splits)
    if leaking:
        log.warning("%d group_id values occur in more than one split: metrics may be "
                    "optimistic; fix the split assignment in %s", leaking, TRAINING_MODEL)
    return TrainingExamples(
        features=list(features), X=np.ascontiguousarray(X), y=y, split=splits, group=groups,
        sampling_rate=rate, segments={c: _as_str(data[c]) for c in roles["segment"]},
        account_id=account_id, snapshot=snapshot,
        label_source=_as_str(data[source_col]) if source_col else None,
        extra={"feature_types": {f: column_types[f] for f in features}},
    )


def _groups_across_splits(groups: np.ndarray, splits: np.ndarray) -> int:
    pairs = {(g, s) for g, s in zip(groups.tolist(), splits.tolist(), strict=True)
             if not g.startswith("account:")}
    seen: dict[str, int] = {}
    for g, _ in pairs:
        seen[g] = seen.get(g, 0) + 1
    return sum(1 for c in seen.values() if c > 1)
