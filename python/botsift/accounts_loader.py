"""Load a real account export (CSV, Parquet, JSON) into ``raw.accounts`` through a column mapping.

Real exports are messy. This module turns one or more export files plus a mapping file into
rows of the raw accounts contract (:data:`botsift.schema.RAW_TABLES`), and labels into
``raw.ops_reviews``, and accounts for every row it read:

* **Files**: a gzip-compressed file is read decompressed (``accounts.csv.gz``); a ``.tsv``
  file is tab-separated unless the mapping names a delimiter; a Parquet file or zip archive
  given as text is refused, naming what it is.
* **Encoding**: a text file with a UTF-16 byte order mark is UTF-16; any other is decoded as
  UTF-8 (a BOM is dropped); if that fails, line by line, each line that is not UTF-8 with the
  mapping's ``fallback_encoding`` (default ``latin-1``, which never fails, so no byte is lost
  or turned into U+FFFD; a fallback that cannot decode a line is an error naming the line).
  A UTF-8 file with a few latin-1 lines keeps its UTF-8 text.
* **Booleans**: ``1``/``1.0``/``true``/``t``/``yes``/``y`` are true, ``0``/``0.0``/``false``/
  ``f``/``no``/``n`` and blank are false (exports write false as blank); anything else
  quarantines the row.
* **Dates**: Twitter format (``Sat Oct 17 22:35:31 +0000 2015``), ISO 8601 with or without a
  time or offset, and ``a/b/Y [H:M[:S]]``. A slashed date is day-first when ``a > 12``,
  month-first when ``b > 12``; when both are at most 12 (ambiguous), the candidate closest to
  the creation time encoded in the account's Twitter snowflake id wins when that id is valid,
  otherwise, when exactly one candidate is at or before the row's ``exported_at`` (an account
  cannot be created after it was exported), that one; otherwise the column's ``day_first``
  option decides (default true). Times are stored as naive UTC. An unparseable or missing
  ``created_at`` falls back to the snowflake time when the id is a valid snowflake; otherwise
  the row is quarantined. A row whose ``created_at`` is still after its ``exported_at`` is
  quarantined (``created_after_export``): its age would be negative; so is a row exported
  after the load time (``exported_after_load``), whose labels' review time would follow it.
  A bare number is not a date (ISO's basic format would read epoch milliseconds
  ``1420070400000`` as the year 1420), except ``YYYYMMDD``.
* **Keys**: ``key.strategy: numeric`` uses the key column as the BIGINT account id (it must be
  an integer: ``7.01E+17`` is a spreadsheet-mangled id and is quarantined); ``hash`` derives a
  stable positive BIGINT from the (lower-cased) key text, for exports whose ids are unusable.
* **Duplicates**: rows identical in every source field (and label) collapse to one and are
  counted as ``collapsed_duplicates``. Rows with the same key but different labels are all
  quarantined (``conflicting_labels``). Rows with the same key and label but different values
  keep the copy with the latest ``exported_at`` (then the first read); the others are
  quarantined (``duplicate_key``), and the account keeps the label a quarantined copy carried.
* **Mapping**: a key written twice in the YAML, a name repeated in ``source_columns``, a
  true/false option written as text, and a default or ``value`` that does not parse as its
  column's type are refused when the mapping is read, in one line.
* **Quarantine**: every row that is not loaded and not an exact duplicate is written to
  ``raw.load_quarantine`` with its file, 1-based data row number, reason and the raw row as
  JSON.
* **Reconciliation**: rows read = loaded + quarantined + collapsed duplicates, checked against
  the rows actually written; a mismatch raises.

A blank label leaves the account unlabelled (loaded, to be scored); any other value outside
the mapping's positive and negative values quarantines the row (``bad_label``). Labels are
written as ``raw.ops_reviews`` rows (``suspended_spam`` for bots, ``cleared`` for
humans, note ``imported label from <file>``) so the standard label pipeline
(``stg_ops__reviews`` -> ``fct_account_labels``) picks them up with no special case. Their
``reviewed_at`` is the day after the latest ``exported_at`` of the load (at 00:00): the label
pipeline joins an ops label to the feature snapshot of the day before the review, which in
account-metadata mode is the export date. When a file carries no export time, ``exported_at``
defaults to the end of the day before the load so that this review time is not in the future.
"""
from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml  # type: ignore[import-untyped]

from botsift.errors import BotsiftError, first_line
from botsift.project import connect_warehouse, table_exists, warn_if_built
from botsift.schema import RAW_SCHEMA, RAW_TABLES, raw_ddl

__all__ = [
    "AccountMapping",
    "FORMATS",
    "LoadSummary",
    "ParsedAccounts",
    "PRESETS",
    "load_accounts",
    "load_mapping",
    "parse_accounts",
    "parse_bool",
    "parse_timestamp",
    "preset_path",
    "snowflake_time",
    "stable_id",
]

FORMATS = ("csv", "parquet", "json")
"""Export file formats ``load-accounts`` reads (``--format``, the mapping's ``format``)."""
_FORMAT_CHOICES = f"{', '.join(FORMATS[:-1])} or {FORMATS[-1]}"

log = logging.getLogger(__name__)

PRESETS = ("cresci-2015", "caverlee-2011", "kaggle-2017")
"""Mapping presets shipped with the package (``botsift/presets/<name>.yml``)."""

QUARANTINE_TABLE = "load_quarantine"
_ACCOUNT_COLUMNS = [f.name for f in RAW_TABLES["accounts"]]
_MAPPABLE = [c for c in _ACCOUNT_COLUMNS if c not in ("id", "_loaded_at")]
_TRUE = {"1", "1.0", "true", "t", "yes", "y"}
_FALSE = {"", "0", "0.0", "false", "f", "no", "n"}
_INVALID_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffd]")
_TWITTER_EPOCH_MS = 1288834974657
_SNOWFLAKE_MIN = 1 << 32  # ids below this are pre-snowflake sequential ids
_SLASHED = re.compile(
    r"^\s*(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*$")
# ASCII digits only: int() also reads other scripts' digits (Arabic-Indic "٤٤" is 44)
_DIGITS = re.compile(r"^[+-]?[0-9]+$")
_INT_FLOAT = re.compile(r"^[+-]?[0-9]+\.0*$")


# ---------------------------------------------------------------------------------------------
# Value parsers
# ---------------------------------------------------------------------------------------------
def parse_bool(value: Any) -> bool:
    """Parse an export boolean: 1/blank, TRUE/FALSE, True/False, yes/no.

    Parameters
    ----------
    value : Any
        The raw value (string, number, bool or None).

    Returns
    -------
    bool
        Blank and None are false: exports write a false flag as an empty cell.

    Raises
    ------
    ValueError
        If the value is not a recognised boolean.
    """
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int | float):
        if value in (0, 1):
            return bool(value)
        raise ValueError(f"not a boolean: {value!r}")
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"not a boolean: {value!r}")


_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1


def parse_int(value: Any) -> int | None:
    """Parse an integer counter; blank is None; ``12.0`` is 12; ``1.2E+3`` is rejected.

    Raises
    ------
    ValueError
        If the value is not an integer written exactly, or is outside BIGINT's range.
    """
    number = _parse_int(value)
    if number is not None and not _BIGINT_MIN <= number <= _BIGINT_MAX:
        raise ValueError(f"out of BIGINT range: {value!r}")
    return number


def _parse_int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        if value.is_integer():
            return int(value)
        raise ValueError(f"not an integer: {value!r}")
    text = str(value).strip()
    if text == "":
        return None
    if _DIGITS.match(text):
        return int(text)
    if _INT_FLOAT.match(text):
        return int(text.split(".")[0])
    raise ValueError(f"not an integer: {value!r}")


def snowflake_time(account_id: int | None) -> datetime | None:
    """Return the creation time a Twitter snowflake id encodes, or None for non-snowflake ids.

    Snowflake ids (since late 2010) carry milliseconds since the Twitter epoch in their top 41
    bits. Ids below 2**32 are older sequential ids and encode nothing.
    """
    if account_id is None or not _SNOWFLAKE_MIN <= account_id <= _BIGINT_MAX:
        return None
    ms = (account_id >> 22) + _TWITTER_EPOCH_MS
    t = datetime(1970, 1, 1) + timedelta(milliseconds=ms)
    if not datetime(2010, 11, 4) <= t <= datetime.now(UTC).replace(tzinfo=None):
        return None
    return t


def _year(text: str) -> int:
    y = int(text)
    return y + (2000 if y < 70 else 1900) if len(text) == 2 else y


def parse_timestamp(value: Any, *, day_first: bool = True, hint: datetime | None = None,
                    not_after: datetime | None = None) -> tuple[datetime | None, bool]:
    """Parse a timestamp written in one of the formats real exports mix.

    Parameters
    ----------
    value : Any
        Raw value: Twitter format, ISO 8601, ``a/b/Y [H:M[:S]]``, a datetime, or blank.
    day_first : bool
        Reading of an ambiguous slashed date (both parts at most 12) when ``hint`` does not
        decide it.
    hint : datetime or None
        Approximate true time (the snowflake creation time); the slashed-date candidate closest
        to it wins.
    not_after : datetime or None
        Latest possible time (an account's export time bounds its creation): without a hint,
        an ambiguous date with exactly one candidate at or before it takes that candidate.

    Returns
    -------
    tuple of (datetime or None, bool)
        The naive UTC time (None for blank) and whether the value was an ambiguous slashed date.

    Raises
    ------
    ValueError
        If the value is not blank and matches no format.
    """
    try:
        return _parse_timestamp(value, day_first=day_first, hint=hint, not_after=not_after)
    except OverflowError:
        # an offset that moves 0001-01-01 or 9999-12-31 past datetime's range
        raise ValueError(f"out of range: {value!r}") from None


def _parse_timestamp(value: Any, *, day_first: bool, hint: datetime | None,
                     not_after: datetime | None) -> tuple[datetime | None, bool]:
    if value is None:
        return None, False
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value, False
    if isinstance(value, date):  # a YAML or Parquet date: midnight
        return datetime.combine(value, time()), False
    text = str(value).strip().strip('"').strip()
    if text == "":
        return None, False
    if text.isascii() and text.isdigit() and len(text) != 8:
        # ISO's basic format would read epoch milliseconds 1420070400000 as 1420-07-04;
        # only YYYYMMDD is a date written as digits
        raise ValueError(f"not a timestamp: {value!r} (a bare number: epoch seconds or "
                         "milliseconds are not read as dates)")
    m = _SLASHED.match(text)
    if m:
        a, b, y = int(m.group(1)), int(m.group(2)), _year(m.group(3))
        hh, mm, ss = int(m.group(4) or 0), int(m.group(5) or 0), int(m.group(6) or 0)
        cands: list[datetime] = []
        for day, month in ((a, b), (b, a)):
            try:
                cands.append(datetime(y, month, day, hh, mm, ss))
            except ValueError:
                cands.append(None)  # type: ignore[arg-type]
        day_first_c, month_first_c = cands
        if day_first_c is None and month_first_c is None:
            raise ValueError(f"not a date: {value!r}")
        if day_first_c is None or month_first_c is None or day_first_c == month_first_c:
            return (day_first_c or month_first_c), False
        if hint is not None:
            best = min((day_first_c, month_first_c), key=lambda t: abs(t - hint))
            return best, True
        if not_after is not None and (day_first_c <= not_after) != (month_first_c <= not_after):
            return (day_first_c if day_first_c <= not_after else month_first_c), True
        return (day_first_c if day_first else month_first_c), True
    for fmt in ("%a %b %d %H:%M:%S %z %Y",):
        try:
            return datetime.strptime(text, fmt).astimezone(UTC).replace(tzinfo=None), False
        except ValueError:
            pass
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a timestamp: {value!r}") from None
    if t.tzinfo is not None:
        t = t.astimezone(UTC).replace(tzinfo=None)
    return t, False


def stable_id(key: str) -> int:
    """Return a stable positive BIGINT for a text key (first 63 bits of its SHA-256)."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << 63) - 1)


# ---------------------------------------------------------------------------------------------
# Mapping
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ColumnSpec:
    """How one ``raw.accounts`` column is filled: from a source column, or a constant."""

    source: str | None = None
    value: Any = None
    transform: str | None = None  # "length_placeholder": a number n becomes "x" * n
    day_first: bool = True
    strip_quotes: bool = False


@dataclass(frozen=True)
class AccountMapping:
    """A parsed mapping file: how an export's columns become ``raw.accounts`` rows.

    See ``python/botsift/presets/*.yml`` for documented examples of every option.
    """

    name: str
    columns: dict[str, ColumnSpec]
    key_source: str
    key_strategy: str = "numeric"
    key_lowercase: bool = True
    snowflake_source: str | None = None
    header: bool = True
    source_columns: tuple[str, ...] = ()
    delimiter: str = ","
    fallback_encoding: str = "latin-1"
    format: str | None = None
    files: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    label_source: str | None = None
    label_positive: tuple[str, ...] = ()
    label_negative: tuple[str, ...] = ()
    label_files: dict[str, int] = field(default_factory=dict)

    @property
    def has_labels(self) -> bool:
        """Whether the mapping reads labels from the export itself."""
        return bool(self.label_source or self.label_files)


def preset_path(name: str) -> Path:
    """Return the path of a shipped mapping preset.

    Raises
    ------
    BotsiftError
        If there is no preset of that name.
    """
    if name not in PRESETS:
        raise BotsiftError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return Path(str(resources.files("botsift").joinpath("presets", f"{name}.yml")))


def _label_text(value: Any) -> str:
    """A label as compared: stripped, lower case, ``1.0`` read as ``1`` (a spreadsheet's)."""
    text = str(value).strip().lower()
    return text[:-2] if text.endswith(".0") else text


def _label_values(values: Any, where: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if not isinstance(values, list):
        values = [values]
    odd = [v for v in values if isinstance(v, (dict, list)) or v is None]
    if odd:
        raise BotsiftError(f"{where}: label values must be text or numbers, not {odd[0]!r}")
    return tuple(_label_text(v) for v in values)


_FILE_LABELS = {**dict.fromkeys(("1", "bot", "bots", "true", "positive"), 1),
                **dict.fromkeys(("0", "human", "humans", "false", "negative"), 0)}


def _source_name(value: Any, where: str) -> str:
    """A source column name as the export's header has it: YAML may read ``5`` as a number."""
    if isinstance(value, (dict, list)) or value is None or isinstance(value, bool):
        raise BotsiftError(f"{where}: a source column must be a column name, not {value!r}")
    return str(value)


class _UniqueKeyLoader(yaml.SafeLoader):  # type: ignore[misc]
    """YAML's safe loader, refusing a key written twice in one mapping (YAML keeps the last)."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode,
                              deep: bool = False) -> dict[Any, Any]:
    lines: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in lines:
            raise yaml.constructor.ConstructorError(
                None, None, f"{key!r} is given twice (lines {lines[key]} and "
                f"{key_node.start_mark.line + 1}); keep one", key_node.start_mark)
        lines[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                 _construct_unique_mapping)
# YAML 1.1 reads yes/no/on/off (and y/n) as booleans: `positive: [yes]` became true and never
# matched an export's "yes", and `lang: no` (Norwegian) became "False". As in YAML 1.2, only
# true and false are booleans here; everything else is text.
_BOOL_TAG = "tag:yaml.org,2002:bool"
_UniqueKeyLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_UniqueKeyLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _repeated(names: Sequence[str]) -> list[str]:
    """The names that occur more than once, sorted (a header's, or ``source_columns``)."""
    return sorted({n for n in names if names.count(n) > 1})


def _flag(section: dict[str, Any], name: str, default: bool, where: str) -> bool:
    """A true/false option; a string such as "false" is refused, not read as true."""
    value = section.get(name, default)
    if not isinstance(value, bool):
        raise BotsiftError(f"{where}: {name} must be true or false, not {value!r}")
    return value


# the shape of each top-level section of a mapping file (scalars are checked where read)
_SECTION_TYPES: dict[str, type | tuple[type, ...]] = {
    "columns": dict, "key": (dict, str), "defaults": dict, "label": dict,
    "files": list, "source_columns": list}
_KIND_NAMES = {dict: "a mapping", (dict, str): "a column name or a mapping", list: "a list"}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def load_mapping(path: Path | None = None, *, preset: str | None = None) -> AccountMapping:
    """Read a mapping YAML file (or a shipped preset).

    Parameters
    ----------
    path : Path or None
        The mapping file. None with no preset gives the identity mapping (the export already
        uses our column names, keyed on a numeric ``id``).
    preset : str or None
        Name of a shipped preset (see :data:`PRESETS`).

    Returns
    -------
    AccountMapping

    Raises
    ------
    BotsiftError
        If the file is missing or malformed.
    """
    if preset is not None:
        path = preset_path(preset)
    if path is None:
        doc: dict[str, Any] = {"name": "identity", "key": {"source": "id"},
                               "columns": {c: c for c in _MAPPABLE}}
    else:
        if not Path(path).is_file():
            raise BotsiftError(f"mapping file {path} not found")
        try:
            doc = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_UniqueKeyLoader) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise BotsiftError(f"mapping file {path} is not valid YAML{at}: {problem}") from None
    where = f"mapping {path or 'identity'}"
    if not isinstance(doc, dict):
        raise BotsiftError(f"{where}: expected a YAML mapping at the top level")
    unknown = set(doc) - {"name", "description", "format", "files", "header", "source_columns",
                          "delimiter", "fallback_encoding", "key", "snowflake_source",
                          "columns", "defaults", "label"}
    if unknown:
        raise BotsiftError(f"{where}: unknown top-level keys {sorted(unknown)}")
    for name, kind in _SECTION_TYPES.items():
        value = doc.get(name)
        if value is not None and not isinstance(value, kind):
            raise BotsiftError(f"{where}: {name} must be {_KIND_NAMES[kind]}, "
                               f"not {type(value).__name__} ({value!r})")
    label = doc.get("label") or {}
    if not isinstance(label.get("files") or {}, dict):
        raise BotsiftError(f"{where}: label.files must be a mapping of file name to label")
    bad_label_keys = set(label) - {"source", "positive", "negative", "files"}
    if bad_label_keys:
        raise BotsiftError(f"{where}: unknown label keys {sorted(bad_label_keys)} "
                           "(known: source, positive, negative, files)")
    files_list = doc.get("files") or []
    for pattern in files_list:
        if not isinstance(pattern, str) or not pattern.strip() or pattern.startswith(("/", "\\")):
            raise BotsiftError(f"{where}: files entries are file-name patterns relative to the "
                               f"folder passed (e.g. '*.csv'), not {pattern!r}")
    columns: dict[str, ColumnSpec] = {}
    for target, spec in (doc.get("columns") or {}).items():
        if target not in _MAPPABLE:
            raise BotsiftError(f"{where}: {target!r} is not a raw.accounts column; "
                               f"use one of {', '.join(_MAPPABLE)}")
        if isinstance(spec, (str, int, float)) and not isinstance(spec, bool):
            columns[target] = ColumnSpec(source=str(spec))
        elif isinstance(spec, dict):
            bad = set(spec) - {"source", "value", "transform", "day_first", "strip_quotes"}
            if bad or ("source" in spec) == ("value" in spec):
                raise BotsiftError(f"{where}: column {target!r} needs exactly one of source/value "
                                   f"and only transform, day_first, strip_quotes besides")
            if spec.get("transform") not in (None, "length_placeholder"):
                raise BotsiftError(f"{where}: column {target!r}: unknown transform "
                                   f"{spec['transform']!r} (known: length_placeholder)")
            source = (None if "source" not in spec
                      else _source_name(spec["source"], f"{where}: column {target!r}"))
            columns[target] = ColumnSpec(
                source=source, value=spec.get("value"), transform=spec.get("transform"),
                day_first=_flag(spec, "day_first", True, f"{where}: column {target!r}"),
                strip_quotes=_flag(spec, "strip_quotes", False, f"{where}: column {target!r}"))
            if columns[target].source is None:
                _constant(target, columns[target].value, columns[target], where, "value")
        else:
            raise BotsiftError(f"{where}: column {target!r} must be a source name or a mapping")
    key = doc.get("key") or {}
    if isinstance(key, str):
        key = {"source": key}
    if "source" not in key:
        raise BotsiftError(f"{where}: `key: {{source: <column>}}` is required")
    bad_key_keys = set(key) - {"source", "strategy", "lowercase"}
    if bad_key_keys:
        raise BotsiftError(f"{where}: unknown key options {sorted(bad_key_keys)} "
                           "(known: source, strategy, lowercase)")
    key_source = _source_name(key["source"], f"{where}: key")
    strategy = key.get("strategy", "numeric")
    if strategy not in ("numeric", "hash"):
        raise BotsiftError(f"{where}: key.strategy must be numeric or hash, not {strategy!r}")
    defaults = dict(doc.get("defaults") or {"region": "na", "signup_client": "web"})
    for c in defaults:
        if c not in _MAPPABLE:
            raise BotsiftError(f"{where}: default for unknown column {c!r}")
        # a default fills the parsed row as is: parse it now, as a value read from the export
        defaults[c] = _constant(c, defaults[c], ColumnSpec(), where, "default")
    label_files: dict[str, int] = {}
    for pattern, value in (label.get("files") or {}).items():
        text = _label_text(value)
        if isinstance(value, (dict, list)) or text not in _FILE_LABELS:
            raise BotsiftError(f"{where}: label.files[{pattern!r}] is {value!r}: each file's "
                               "label must be bot (1, true, positive) or human (0, false, negative)")
        label_files[str(pattern)] = _FILE_LABELS[text]
    header = _flag(doc, "header", True, where)
    source_columns = tuple(str(c) for c in doc.get("source_columns") or ())
    if not header and not source_columns:
        raise BotsiftError(f"{where}: header: false needs source_columns (the column names in order)")
    repeated = _repeated(source_columns)
    if repeated:
        raise BotsiftError(f"{where}: source_columns names {', '.join(repeated)} more than once")
    fmt = doc.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise BotsiftError(f"{where}: format must be {_FORMAT_CHOICES}")
    delimiter = doc.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise BotsiftError(f"{where}: delimiter must be one character, not {delimiter!r}")
    fallback_encoding = str(doc.get("fallback_encoding", "latin-1"))
    try:
        "a".encode(fallback_encoding)  # a text codec: rot13 and base64 are codecs too
    except LookupError:
        raise BotsiftError(f"{where}: unknown fallback_encoding {fallback_encoding!r} "
                           "(a Python codec name, e.g. latin-1 or cp1252)") from None
    if doc.get("name") is not None:
        name = str(doc["name"])
        if not _NAME.fullmatch(name):
            raise BotsiftError(f"{where}: name {name!r} names files (evaluate's warehouse and "
                               "results): use letters, digits, '.', '-' and '_' only")
    else:  # a file's stem may hold anything a file name can
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(path).stem if path else "identity").strip("._")
    return AccountMapping(
        name=name or "mapping",
        columns=columns,
        key_source=key_source,
        key_strategy=strategy,
        key_lowercase=_flag(key, "lowercase", True, f"{where}: key"),
        snowflake_source=(None if not doc.get("snowflake_source")
                          else _source_name(doc["snowflake_source"], f"{where}: snowflake_source")
                          ) or (key_source if strategy == "numeric" else None),
        header=header,
        source_columns=source_columns,
        delimiter=delimiter,
        fallback_encoding=fallback_encoding,
        format=fmt,
        files=tuple(files_list),
        defaults=defaults,
        label_source=(None if label.get("source") is None
                      else _source_name(label["source"], f"{where}: label")),
        label_positive=_label_values(label.get("positive", ["1", "true", "bot"]), where),
        label_negative=_label_values(label.get("negative", ["0", "false", "human"]), where),
        label_files=label_files,
    )


# ---------------------------------------------------------------------------------------------
# Reading files
# ---------------------------------------------------------------------------------------------
_CSV_FIELD_LIMIT = 64 * 2**20

@dataclass
class _SourceRow:
    file: str
    row_number: int
    values: dict[str, Any]
    file_label: int | None


def _decode(raw: bytes, fallback: str, name: str) -> tuple[str, str]:
    """Decode a text export: UTF-8, else line by line, each line UTF-8 or ``fallback``.

    A file appended to by several tools can be UTF-8 with a few latin-1 lines; decoding the
    whole file with the fallback would garble every UTF-8 character in it (``é`` becomes
    ``Ã©``). Splitting on the newline byte is safe for UTF-8 and for an ASCII-compatible
    fallback (that byte never occurs inside a character); any other fallback decodes the
    whole file. Returns the text and the encoding used: ``fallback`` when no line holds
    UTF-8 beyond ASCII, else ``"utf-8+latin-1 (3 lines)"`` naming the lines that fell back.
    """
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise BotsiftError(f"{name}: starts with a UTF-16 byte order mark but is not valid "
                               f"UTF-16 (byte {exc.start})") from None
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    if _ASCII_BYTES.decode(fallback, errors="replace") != _ASCII_BYTES.decode("ascii"):
        log.info("%s is not valid UTF-8; decoding as %s", name, fallback)
        return _decode_fallback(raw, fallback, name, None), fallback
    lines = raw.removeprefix(codecs.BOM_UTF8).split(b"\n")
    text, fell_back, utf8 = [], 0, 0
    for number, line in enumerate(lines, start=1):
        try:
            text.append(line.decode("utf-8"))
            utf8 += not line.isascii()
        except UnicodeDecodeError:
            text.append(_decode_fallback(line, fallback, name, number))
            fell_back += 1
    if not utf8:
        log.info("%s is not valid UTF-8; decoding as %s", name, fallback)
        return "\n".join(text), fallback
    log.info("%s is UTF-8 but for %d line(s), decoded as %s", name, fell_back, fallback)
    return "\n".join(text), f"utf-8+{fallback} ({fell_back} line{'s' if fell_back != 1 else ''})"


_ASCII_BYTES = bytes(range(128))


def _decode_fallback(raw: bytes, fallback: str, name: str, line: int | None) -> str:
    """``raw`` decoded with the mapping's ``fallback_encoding``, or an error naming the place."""
    try:
        return raw.decode(fallback)
    except UnicodeDecodeError as exc:
        where = f"line {line}" if line is not None else f"byte {exc.start}"
        raise BotsiftError(f"{name}: {where} is neither UTF-8 nor {fallback} (the mapping's "
                           "fallback_encoding); set fallback_encoding to the file's encoding "
                           "(latin-1 reads any byte)") from None


# what a file that is not text starts with
_MAGIC = {b"PAR1": "a Parquet file, not {kind} text: name it .parquet or pass --format parquet",
          b"PK\x03\x04": "a zip archive, not {kind} text: unzip it first",
          b"\x1f\x8b": "compressed twice with gzip: decompress it first"}


def _suffix(path: Path) -> str:
    """The file's suffix, ignoring a ``.gz`` after it (``accounts.tsv.gz`` is ``.tsv``)."""
    suffixes = [x.lower() for x in path.suffixes]
    if suffixes[-1:] == [".gz"]:
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def _format_of(path: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise BotsiftError(f"unknown format {fmt!r}: use {_FORMAT_CHOICES}")
        return fmt
    suffix = _suffix(path)
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".json", ".jsonl", ".ndjson"):
        return "json"
    return "csv"


def _read_file(path: Path, mapping: AccountMapping, fmt: str | None
               ) -> tuple[list[dict[str, Any]], str, list[str]]:
    """Read one export file: ({source column: raw value} per row, encoding, column names).

    The column names are the file's own (CSV header, Parquet schema; for JSON the keys its
    objects use), so a file with a header and no rows still says which columns it has.
    """
    kind = _format_of(path, fmt or mapping.format)
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except (pa.ArrowException, OSError) as exc:
            raise BotsiftError(f"{path}: not a readable Parquet file ({type(exc).__name__}: "
                               f"{first_line(exc)})") from None
        return table.to_pylist(), "parquet", table.column_names
    raw = path.read_bytes()
    if raw.startswith(b"\x1f\x8b"):  # gzip: exports are often shipped compressed
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise BotsiftError(f"{path}: a broken gzip file ({exc})") from None
    for magic, what in _MAGIC.items():
        if raw.startswith(magic):
            raise BotsiftError(f"{path}: is {what.format(kind=kind)}")
    text, encoding = _decode(raw, mapping.fallback_encoding, path.name)
    if "\x00" in text:
        raise BotsiftError(f"{path}: holds NUL characters, so it is not {encoding} text (UTF-16 "
                           "without a byte order mark?): save it as UTF-8")
    if kind == "json":
        if text.strip() == "":
            raise BotsiftError(f"{path}: empty file (no JSON objects)")
        if text.lstrip().startswith("["):
            try:
                rows = json.loads(text, object_pairs_hook=_unique_object)
            except json.JSONDecodeError as exc:
                raise BotsiftError(f"{path}: not valid JSON or JSON lines: {exc}") from None
            except _RepeatedKey as exc:
                raise BotsiftError(f"{path}: an object names {exc} twice: which value is "
                                   "meant cannot be told") from None
            except RecursionError:
                raise BotsiftError(f"{path}: JSON nested too deeply to be account rows") from None
        else:
            rows = [_json_line(path, number, line)
                    for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
        if not all(isinstance(r, dict) for r in rows):
            raise BotsiftError(f"{path}: expected JSON objects, one per account")
        return rows, encoding, list(dict.fromkeys(k for r in rows for k in r))
    # strict: a stray quote is an error naming its line, not a field that swallows the rows
    # after it; fields up to 64 MiB (the module's default limit, 128 KiB, is a long bio)
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    delimiter = mapping.delimiter
    if _suffix(path) == ".tsv" and delimiter == ",":  # the default: a .tsv file is tab-separated
        delimiter = "\t"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        records = list(reader)
    except csv.Error as exc:
        raise BotsiftError(f"{path}: not valid CSV at line {reader.line_num}: {exc}; fix the "
                           "quoting there (a stray or unclosed quote)") from None
    if mapping.header:
        # blank lines before the header are not rows (a header of one empty name would be
        # taken, and every row quarantined as the wrong width)
        while records and all(f.strip() == "" for f in records[0]):
            records.pop(0)
        if not records:
            raise BotsiftError(f"{path}: empty file (no header row)")
        # an unnamed column (a trailing delimiter in the header) gets its position as a name
        names = [n.strip() or f"column_{i}" for i, n in enumerate(records[0], start=1)]
        repeated = _repeated(names)
        if repeated:
            raise BotsiftError(f"{path}: the header names {', '.join(repeated)} more than once; "
                               "rename the columns so each value has one name")
        body = records[1:]
    else:
        names = list(mapping.source_columns)
        body = records
    out = []
    for rec in body:
        if not rec or (len(rec) == 1 and rec[0].strip() == ""):
            out.append({"__blank__": True})
            continue
        row: dict[str, Any] = dict(zip(names, rec, strict=False))
        if len(rec) != len(names):
            row["__width__"] = len(rec)
            row["__expected_width__"] = len(names)
            if len(rec) > len(names):  # kept for the quarantine's raw row
                row["_extra_fields"] = rec[len(names):]
        out.append(row)
    return out, encoding, names


class _RepeatedKey(ValueError):
    """A JSON object that names a key twice (json keeps the last value silently)."""


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _RepeatedKey(repr(k))
        out[k] = v
    return out


def _json_line(path: Path, number: int, line: str) -> Any:
    """One line of a JSON-lines file, or an error naming the line."""
    try:
        return json.loads(line, object_pairs_hook=_unique_object)
    except json.JSONDecodeError as exc:
        raise BotsiftError(f"{path}: line {number} is not valid JSON ({exc.msg} at column "
                           f"{exc.colno})") from None
    except _RepeatedKey as exc:
        raise BotsiftError(f"{path}: line {number} names {exc} twice: which value is meant "
                           "cannot be told") from None
    except RecursionError:
        raise BotsiftError(f"{path}: line {number} is JSON nested too deeply to be an "
                           "account row") from None


def _column_list(columns: Iterable[str]) -> str:
    """A file's column names for an error message: sorted, internal markers left out, 40 at most."""
    return ", ".join(sorted(c for c in columns if not c.startswith("__"))[:40])


def _expand(paths: Sequence[Path], mapping: AccountMapping) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found: list[Path] = []
            if mapping.files:
                for name in mapping.files:
                    found.extend(sorted(p.glob(name)))
            else:
                found = sorted(q for q in p.iterdir() if q.is_file()
                               and _suffix(q) in (".csv", ".tsv", ".txt", ".parquet", ".json", ".jsonl"))
            if not found:
                raise BotsiftError(f"{p}: no export files found (looked for "
                                   f"{', '.join(mapping.files) or 'csv/tsv/txt/parquet/json'})")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        elif p.exists():
            raise BotsiftError(f"{p}: not a regular file or folder")
        else:
            raise BotsiftError(f"{p}: no such file or directory")
    return files


# ---------------------------------------------------------------------------------------------
# Parsing rows
# ---------------------------------------------------------------------------------------------
@dataclass
class ParsedAccounts:
    """The result of parsing exports: account rows, labels, quarantine and counts.

    ``accounts`` holds one dict per loaded account with the ``raw.accounts`` columns (no
    ``_loaded_at``); ``labels`` maps account id to (label, file); ``quarantine`` holds dicts
    with file, row_number, source_key, reason and raw_row (JSON).
    """

    mapping: str
    files: list[str]
    encodings: dict[str, str]
    accounts: list[dict[str, Any]]
    labels: dict[int, tuple[int, str]]
    quarantine: list[dict[str, Any]]
    rows_read: int
    collapsed_duplicates: int
    label_rows_read: int = 0
    label_rows_applied: int = 0
    ambiguous_dates: int = 0
    snowflake_fallbacks: int = 0
    missing_columns: list[str] = field(default_factory=list)
    labels_overridden: int = 0

    def reconcile(self) -> None:
        """Check rows read = loaded + quarantined + collapsed duplicates (+ applied label rows).

        Rows of a separate labels file are read too: each is applied to an account or
        quarantined.

        Raises
        ------
        BotsiftError
            If the counts do not add up (a loader bug: nothing is written).
        """
        total = (len(self.accounts) + len(self.quarantine) + self.collapsed_duplicates
                 + self.label_rows_applied)
        if total != self.rows_read + self.label_rows_read:
            raise BotsiftError(
                f"load does not reconcile: read {self.rows_read} rows (+{self.label_rows_read} "
                f"label rows) but loaded {len(self.accounts)} + quarantined "
                f"{len(self.quarantine)} + collapsed {self.collapsed_duplicates} + label rows "
                f"applied {self.label_rows_applied} = {total}; nothing was written")


def _raw_json(values: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in values.items() if not k.startswith("__")},
                      default=str, ensure_ascii=False, sort_keys=True)


def _source(values: dict[str, Any], column: str) -> Any:
    v = values.get(column)
    if isinstance(v, str) and v.strip() == "":
        return None
    return v


def _key_of(row: _SourceRow, mapping: AccountMapping) -> tuple[int, str]:
    raw = _source(row.values, mapping.key_source)
    if raw is None:
        raise ValueError(f"missing key {mapping.key_source}")
    text = str(raw).strip().strip('"').strip()
    if text == "":
        raise ValueError(f"key {mapping.key_source}={raw!r} is empty once its quotes are stripped")
    if mapping.key_strategy == "numeric":
        if isinstance(raw, float) or not _DIGITS.match(text):
            raise ValueError(f"key {mapping.key_source}={text!r} is not an integer id "
                             "(spreadsheet-mangled ids like 7.01E+17 cannot be used: key on "
                             "another column with key.strategy: hash)")
        value = int(text)
        if value <= 0:
            raise ValueError(f"key {mapping.key_source}={text!r} is not a positive id")
        if value > _BIGINT_MAX:
            raise ValueError(f"key {mapping.key_source}={text!r} is out of BIGINT range")
        return value, str(value)  # 00123 and 123 are one account, in the labels file too
    norm = text.lower() if mapping.key_lowercase else text
    return stable_id(norm), norm


def _label_of(row: _SourceRow, mapping: AccountMapping) -> int | None:
    if mapping.label_source:
        raw = _source(row.values, mapping.label_source)
        text = "" if raw is None else _label_text(raw)
        if text in mapping.label_positive:
            return 1
        if text in mapping.label_negative:
            return 0
        if text == "":
            return None  # not labelled: an account to score, not a bad row
        raise ValueError(f"unknown label {mapping.label_source}={raw!r}")
    return row.file_label


def _clean_text(v: Any, spec: ColumnSpec) -> str | None:
    if v is None:
        return None
    if isinstance(v, bytes):  # a Parquet binary column: text written without its UTF-8 type
        try:
            v = v.decode("utf-8")
        except UnicodeDecodeError:
            v = v.decode("latin-1")
    text = str(v)
    if spec.strip_quotes:
        while len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
            text = text[1:-1]
        text = text.strip('"')
    return text if text.strip() != "" else None


_ACCOUNT_TYPES = {f.name: f.type for f in RAW_TABLES["accounts"]}
_MAX_PLACEHOLDER_LENGTH = 100_000
"""The longest text a ``length_placeholder`` stands in for (a bio is 160 characters)."""


def _parse_value(col: str, raw: Any, spec: ColumnSpec, *, hint: datetime | None = None,
                 not_after: datetime | None = None) -> tuple[Any, bool]:
    """One ``raw.accounts`` value from its export value: (value, whether an ambiguous date).

    Raises
    ------
    ValueError
        If the value cannot be read as the column's type.
    """
    typ = _ACCOUNT_TYPES[col]
    if spec.transform == "length_placeholder":
        n = parse_int(raw)
        if n is not None and not 0 <= n <= _MAX_PLACEHOLDER_LENGTH:
            raise ValueError(f"length {n} is outside 0..{_MAX_PLACEHOLDER_LENGTH:,}")
        return (None if n is None else "x" * n), False
    if pa.types.is_timestamp(typ):
        return parse_timestamp(raw, day_first=spec.day_first, hint=hint, not_after=not_after)
    if pa.types.is_boolean(typ):
        return parse_bool(raw), False
    if pa.types.is_integer(typ):
        return parse_int(raw), False
    if isinstance(raw, (dict, list, tuple)):
        raise ValueError(f"a nested value, not text: {json.dumps(raw, default=str)[:80]}")
    text = _clean_text(raw, spec)
    if text is not None and _INVALID_TEXT.search(text):
        raise ValueError("control or replacement character in text")
    return text, False


def _constant(col: str, raw: Any, spec: ColumnSpec, where: str, what: str) -> Any:
    """A mapping's constant (a default, a column's value) parsed as ``col``'s type."""
    try:
        return _parse_value(col, raw, spec)[0]
    except ValueError as exc:
        raise BotsiftError(f"{where}: {what} for {col}: {exc}") from None


def _parse_row(row: _SourceRow, mapping: AccountMapping, account_id: int,
               snowflake_hint: datetime | None, stats: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": account_id}
    # the export time first: it bounds the creation time of an ambiguous created_at
    for col in sorted(_MAPPABLE, key=lambda c: c != "exported_at"):
        spec = mapping.columns.get(col)
        if spec is None:
            out[col] = None
            continue
        if spec.source is not None and spec.source not in row.values:
            out[col] = None  # the export has no such column: unknown, whatever the type
            continue
        raw = spec.value if spec.source is None else _source(row.values, spec.source)
        try:
            created = col == "created_at"
            out[col], ambiguous = _parse_value(
                col, raw, spec, hint=snowflake_hint if created else None,
                not_after=out.get("exported_at") if created else None)
            stats["ambiguous_dates"] += int(ambiguous)
        except ValueError as exc:
            raise ValueError(f"{col}: {exc}") from None
    if out["created_at"] is None:
        if snowflake_hint is None:
            raise ValueError("created_at: missing and the id encodes no creation time")
        out["created_at"] = snowflake_hint
        stats["snowflake_fallbacks"] += 1
    for col, value in mapping.defaults.items():
        if out.get(col) is None:
            out[col] = value
    return out


def _snowflake_hint(row: _SourceRow, mapping: AccountMapping) -> datetime | None:
    if not mapping.snowflake_source:
        return None
    raw = _source(row.values, mapping.snowflake_source)
    if raw is None or isinstance(raw, float):
        return None
    text = str(raw).strip().strip('"')
    return snowflake_time(int(text)) if _DIGITS.match(text) else None


def parse_accounts(paths: Sequence[Path], mapping: AccountMapping, *, fmt: str | None = None,
                   labels_file: Path | None = None,
                   now: datetime | None = None) -> ParsedAccounts:
    """Parse export files into ``raw.accounts`` rows, labels and a quarantine, without writing.

    Parameters
    ----------
    paths : sequence of Path
        Export files, or folders (the mapping's ``files`` globs pick the files in them).
    mapping : AccountMapping
        How the export's columns map to ours (:func:`load_mapping`).
    fmt : {"csv", "parquet", "json"} or None
        Force a file format; default from the mapping, then the file suffix.
    labels_file : Path or None
        A separate labels file (CSV/Parquet/JSON) with the mapping's key column and a label
        column (the mapping's ``label.source``, default ``label``).
    now : datetime or None
        The load time (naive UTC); default now.

    Returns
    -------
    ParsedAccounts
        Reconciled: rows read = loaded + quarantined + collapsed duplicates.

    Raises
    ------
    BotsiftError
        If a file is missing or unreadable, or the key column is absent.
    """
    now = now or datetime.now(UTC).replace(tzinfo=None)
    files = _expand(paths, mapping)
    rows: list[_SourceRow] = []
    encodings: dict[str, str] = {}
    seen_columns: set[str] = set()
    for path in files:
        records, encoding, columns = _read_file(path, mapping, fmt)
        encodings[path.name] = encoding
        seen_columns.update(columns)
        if not records:
            log.warning("%s holds no account rows", path.name)
        file_label = None
        if mapping.label_files:
            matches = {k: v for k, v in mapping.label_files.items() if Path(path).match(k)}
            if not matches:
                raise BotsiftError(f"{path.name}: the mapping's label.files does not name this "
                                   f"file (it names {', '.join(mapping.label_files)})")
            if len(set(matches.values())) > 1:
                raise BotsiftError(f"{path.name}: the mapping's label.files patterns "
                                   f"{', '.join(matches)} all match this file with different "
                                   "labels; make them name it once")
            file_label = next(iter(matches.values()))
        for i, values in enumerate(records, start=1):
            rows.append(_SourceRow(path.name, i, values, file_label))
        log.info("read %s rows from %s (%s)", f"{len(records):,}", path.name, encoding)
    if seen_columns and mapping.key_source not in seen_columns:
        raise BotsiftError(f"the key column {mapping.key_source!r} is not in the export "
                           f"(columns: {_column_list(seen_columns)})")
    missing = sorted({s.source for s in mapping.columns.values()
                      if s.source and s.source not in seen_columns})
    for m in missing:
        log.warning("source column %r is not in the export: its column will be null", m)
    if (seen_columns and labels_file is None and mapping.label_source
            and mapping.label_source not in seen_columns):
        raise BotsiftError(f"the label column {mapping.label_source!r} (the mapping's label.source) "
                           f"is not in the export (columns: {_column_list(seen_columns)})")
    label_override: dict[str, tuple[int, str, int, str]] = {}
    label_quarantine: list[dict[str, Any]] = []
    label_rows = 0
    if labels_file is not None:
        # --format names the export's format; the labels file's comes from its own suffix
        label_override, label_quarantine, label_rows = _read_labels(labels_file, mapping, None)

    stats = {"ambiguous_dates": 0, "snowflake_fallbacks": 0}
    quarantine: list[dict[str, Any]] = list(label_quarantine)

    def reject(row: _SourceRow, reason: str, key: str | None = None) -> None:
        quarantine.append({"file": row.file, "row_number": row.row_number, "source_key": key,
                           "reason": reason, "raw_row": _raw_json(row.values)})

    # 1. parse every row; exact duplicates (same source values and label) collapse
    parsed: list[tuple[_SourceRow, int, str, int | None, dict[str, Any]]] = []
    seen: set[tuple[str, int | None]] = set()
    labelled: dict[str, dict[str, int]] = {}  # key -> {file:row: label}
    overridden: set[str] = set()  # keys whose export label the labels file contradicts
    collapsed = 0
    for row in rows:
        if row.values.get("__blank__"):
            reject(row, "blank_line")
            continue
        if "__width__" in row.values:
            reject(row, f"wrong_field_count: {row.values['__width__']} fields, expected "
                        f"{row.values['__expected_width__']}")
            continue
        try:
            account_id, key = _key_of(row, mapping)
        except ValueError as exc:
            reject(row, f"bad_key: {exc}")
            continue
        try:
            label = _label_of(row, mapping)
        except ValueError as exc:
            reject(row, f"bad_label: {exc}", key)
            continue
        if key in label_override:
            if label is not None and label != label_override[key][0]:
                overridden.add(key)  # the labels file wins; the summary counts the changes
            label = label_override[key][0]
        if label is not None:  # every labelled copy counts, also one quarantined below
            labelled.setdefault(key, {}).setdefault(f"{row.file}:{row.row_number}", label)
        fingerprint = (_raw_json(row.values), label)
        if fingerprint in seen:
            collapsed += 1
            continue
        seen.add(fingerprint)
        try:
            values = _parse_row(row, mapping, account_id, _snowflake_hint(row, mapping), stats)
        except ValueError as exc:
            reject(row, f"unparseable {exc}", key)
            continue
        if values.get("exported_at") is None:
            # no export time: end of the day before the load, so imported reviews (the day
            # after exported_at) are not in the future
            values["exported_at"] = datetime.combine(now.date(), datetime.min.time()) - timedelta(microseconds=1)
        if values["exported_at"] > now:
            # an export cannot come from the future; its labels' review time would follow it
            reject(row, f"exported_after_load: exported_at {values['exported_at']} is after the "
                        f"load time {now:%Y-%m-%d %H:%M:%S} (UTC)", key)
            continue
        if values["created_at"] > values["exported_at"]:
            reject(row, f"created_after_export: created_at {values['created_at']} is after "
                        f"exported_at {values['exported_at']}", key)
            continue
        parsed.append((row, account_id, key, label, values))

    # 2. group by account: conflicting labels quarantine every copy; otherwise keep one copy
    by_id: dict[int, list[int]] = {}
    for idx, (_, account_id, _, _, _) in enumerate(parsed):
        by_id.setdefault(account_id, []).append(idx)
    accounts: list[dict[str, Any]] = []
    labels: dict[int, tuple[int, str]] = {}
    kept_keys: set[str] = set()
    for account_id, idxs in by_id.items():
        copies = [parsed[i] for i in idxs]
        keys = {c[2] for c in copies}
        if len(keys) > 1:
            for row, _, key, _, _ in copies:
                reject(row, f"id_collision: keys {sorted(keys)} hash to the same id", key)
            continue
        seen_labels = labelled.get(copies[0][2], {})
        if len(set(seen_labels.values())) > 1:
            where = ", ".join(f"{at}={label}" for at, label in seen_labels.items())
            for row, _, key, _, _ in copies:
                reject(row, f"conflicting_labels: {where}", key)
            continue
        # the latest export first, then the first read (a stable sort keeps read order; no
        # .timestamp(), which fails on a placeholder such as 0001-01-01)
        order = sorted(range(len(copies)), key=lambda j: copies[j][4]["exported_at"], reverse=True)
        keep = copies[order[0]]
        for j in order[1:]:
            row, _, key, _, _ = copies[j]
            reject(row, f"duplicate_key: kept {keep[0].file}:{keep[0].row_number}", key)
        accounts.append(keep[4])
        kept_keys.add(keep[2])
        # the kept copy's label, else another loadable copy's (labels agree by now): keeping
        # the latest export must not drop the label an older copy carries
        labelled_copy = next((c for c in [keep, *copies] if c[3] is not None), None)
        if labelled_copy is not None and labelled_copy[3] is not None:
            source = (label_override[keep[2]][1] if keep[2] in label_override
                      else labelled_copy[0].file)
            labels[account_id] = (labelled_copy[3], source)
    result = ParsedAccounts(
        mapping=mapping.name, files=[str(f) for f in files], encodings=encodings,
        accounts=accounts, labels=labels, quarantine=quarantine,
        rows_read=len(rows), collapsed_duplicates=collapsed,
        label_rows_read=label_rows,
        ambiguous_dates=stats["ambiguous_dates"], snowflake_fallbacks=stats["snowflake_fallbacks"],
        missing_columns=missing, labels_overridden=len(overridden & kept_keys),
    )
    for key, (_, source, row_number, raw_row) in label_override.items():
        if key in kept_keys:
            result.label_rows_applied += 1
        else:
            result.quarantine.append({"file": source, "row_number": row_number, "source_key": key,
                                      "reason": "label_for_unknown_account: no loaded account has this key",
                                      "raw_row": raw_row})
    result.reconcile()
    return result


def _read_labels(path: Path, mapping: AccountMapping, fmt: str | None
                 ) -> tuple[dict[str, tuple[int, str, int, str]], list[dict[str, Any]], int]:
    """Read a labels file: {key: (label, file, row number, raw row JSON)}, quarantine, rows read."""
    if not Path(path).is_file():
        raise BotsiftError(f"labels file {path} not found")
    label_mapping = AccountMapping(
        name="labels", columns={}, key_source=mapping.key_source,
        key_strategy=mapping.key_strategy, key_lowercase=mapping.key_lowercase,
        fallback_encoding=mapping.fallback_encoding,
        label_source=mapping.label_source or "label",
        label_positive=mapping.label_positive or ("1", "true", "bot"),
        label_negative=mapping.label_negative or ("0", "false", "human"),
    )
    records, _, columns = _read_file(Path(path), label_mapping, fmt)
    if not records:
        log.warning("labels file %s holds no label rows", Path(path).name)
    needed = [c for c in (label_mapping.key_source, label_mapping.label_source) if c not in columns]
    if columns and needed:
        raise BotsiftError(f"labels file {path} has no {' or '.join(repr(c) for c in needed)} "
                           f"column (columns: {_column_list(columns)}); it needs the export's "
                           "key and a label")
    out: dict[str, tuple[int, str, int, str]] = {}
    bad: list[dict[str, Any]] = []
    conflicted: set[str] = set()
    for i, values in enumerate(records, start=1):
        row = _SourceRow(Path(path).name, i, values, None)
        try:
            if values.get("__blank__"):
                raise ValueError("blank line")
            if "__width__" in values:
                raise ValueError(f"{values['__width__']} fields, expected "
                                 f"{values['__expected_width__']}")
            _, key = _key_of(row, label_mapping)
            label = _label_of(row, label_mapping)
            if label is None:  # a labels file row is there to give a label
                raise ValueError(f"blank label {label_mapping.label_source}")
        except ValueError as exc:
            bad.append({"file": row.file, "row_number": i, "source_key": None,
                        "reason": f"bad_label_row: {exc}", "raw_row": _raw_json(values)})
            continue
        if key in conflicted or (key in out and out[key][0] != label):
            # no label applies to a key labelled both ways: its first row is quarantined too
            if key in out:
                _, first_file, first_row, first_raw = out.pop(key)
                bad.append({"file": first_file, "row_number": first_row, "source_key": key,
                            "reason": "conflicting_labels: labelled both ways in the labels file",
                            "raw_row": first_raw})
            conflicted.add(key)
            bad.append({"file": row.file, "row_number": i, "source_key": key,
                        "reason": "conflicting_labels: labelled both ways in the labels file",
                        "raw_row": _raw_json(values)})
            continue
        if key in out:  # the same label twice: the first row applies, this one is redundant
            bad.append({"file": row.file, "row_number": i, "source_key": key,
                        "reason": "duplicate_label: the key is labelled earlier in the file",
                        "raw_row": _raw_json(values)})
            continue
        if label is None:
            continue
        out[key] = (label, row.file, i, _raw_json(values))
    return out, bad, len(records)


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoadSummary:
    """What one load did.

    ``rows_read + label_rows_read == rows_loaded + rows_quarantined + collapsed_duplicates +
    label_rows_applied`` (the label terms are zero without a separate labels file).
    """

    mapping: str
    files: list[str]
    encodings: dict[str, str]
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    collapsed_duplicates: int
    label_rows_read: int
    label_rows_applied: int
    labels_loaded: int
    bots: int
    humans: int
    ambiguous_dates: int
    snowflake_fallbacks: int
    missing_columns: list[str]
    quarantine_reasons: dict[str, int]
    warehouse: str
    labels_overridden: int = 0

    def lines(self) -> list[str]:
        """The summary as printable lines."""
        out = [
            f"mapping {self.mapping}: {len(self.files)} file(s) "
            + ", ".join(f"{Path(f).name} ({self.encodings.get(Path(f).name, '?')})" for f in self.files),
            f"rows read {self.rows_read:,} = loaded {self.rows_loaded:,} + quarantined "
            f"{self.rows_quarantined:,} + collapsed duplicates {self.collapsed_duplicates:,}"
            + (f" + label rows applied {self.label_rows_applied:,} (of {self.label_rows_read:,} "
               "label rows read)" if self.label_rows_read else ""),
            f"labels {self.labels_loaded:,} (bots {self.bots:,}, humans {self.humans:,}) -> raw.ops_reviews"
            + (f"; the labels file changed {self.labels_overridden:,} label(s) the export gave"
               if self.labels_overridden else ""),
            f"ambiguous dates resolved {self.ambiguous_dates:,}; created_at from snowflake id "
            f"{self.snowflake_fallbacks:,}",
        ]
        if self.missing_columns:
            out.append("source columns absent (null): " + ", ".join(self.missing_columns))
        for reason, n in sorted(self.quarantine_reasons.items(), key=lambda kv: -kv[1]):
            out.append(f"  quarantined {n:,}: {reason}")
        return out


def _quarantine_schema() -> pa.Schema:
    return pa.schema([("file", pa.string()), ("row_number", pa.int64()),
                      ("source_key", pa.string()), ("reason", pa.string()),
                      ("raw_row", pa.string()), ("_loaded_at", pa.timestamp("us"))])


def load_accounts(paths: Sequence[Path], warehouse: Path, *, mapping: AccountMapping | None = None,
                  fmt: str | None = None, labels_file: Path | None = None, replace: bool = False,
                  now: datetime | None = None) -> LoadSummary:
    """Load account exports into ``raw.accounts``, labels into ``raw.ops_reviews``.

    Creates every raw table (empty event tables included, so dbt's sources exist) and
    ``raw.load_quarantine``. Accounts already in the warehouse with a loaded id are replaced
    (so re-running a load is idempotent); ``replace`` empties every raw table first.

    Parameters
    ----------
    paths : sequence of Path
        Export files or folders.
    warehouse : Path
        The DuckDB warehouse file (created if missing).
    mapping : AccountMapping or None
        Column mapping; None is the identity mapping.
    fmt, labels_file, now
        As for :func:`parse_accounts`.
    replace : bool
        Empty all raw tables before loading.

    Returns
    -------
    LoadSummary

    Raises
    ------
    BotsiftError
        On unreadable input, a locked warehouse, or a load that does not reconcile.
    """
    mapping = mapping or load_mapping()
    now = now or datetime.now(UTC).replace(tzinfo=None)
    parsed = parse_accounts(paths, mapping, fmt=fmt, labels_file=labels_file, now=now)
    con = connect_warehouse(warehouse, create=True)
    try:
        # refused before anything is created in it
        if table_exists(con, RAW_SCHEMA, "_simulation") and not replace:
            raise BotsiftError(
                f"warehouse {warehouse} holds a simulation (raw._simulation): loading real accounts "
                "would mix them with simulated accounts and events; pass --replace to empty its raw "
                "tables first, or set BOTSIFT_WAREHOUSE to a new file")
        con.execute(f"create schema if not exists {RAW_SCHEMA}")
        for table in RAW_TABLES:
            con.execute(raw_ddl(table))
        qcols = ", ".join(f"{f.name} {'BIGINT' if f.type == pa.int64() else 'TIMESTAMP' if pa.types.is_timestamp(f.type) else 'VARCHAR'}"
                          for f in _quarantine_schema())
        con.execute(f"create table if not exists {RAW_SCHEMA}.{QUARANTINE_TABLE} ({qcols})")
        con.execute("begin transaction")
        if replace:
            for table in (*RAW_TABLES, QUARANTINE_TABLE):
                con.execute(f"delete from {RAW_SCHEMA}.{table}")
            for table in ("_simulation", "_simulation_truth"):  # no longer describes the data
                con.execute(f"drop table if exists {RAW_SCHEMA}.{table}")
        acc = pa.Table.from_pylist([{**a, "_loaded_at": now} for a in parsed.accounts],
                                   schema=RAW_TABLES["accounts"])
        con.register("_new_accounts", acc)
        con.execute(f"delete from {RAW_SCHEMA}.accounts where id in (select id from _new_accounts)")
        before = con.execute(f"select count(*) from {RAW_SCHEMA}.accounts").fetchall()[0][0]
        con.execute(f"insert into {RAW_SCHEMA}.accounts by name select * from _new_accounts")
        loaded = con.execute(f"select count(*) from {RAW_SCHEMA}.accounts").fetchall()[0][0] - before
        reviews = _review_rows(parsed, now)
        rev = pa.Table.from_pylist(reviews, schema=RAW_TABLES["ops_reviews"])
        con.register("_new_reviews", rev)
        con.execute(f"delete from {RAW_SCHEMA}.ops_reviews where id in (select id from _new_reviews)")
        con.execute(f"insert into {RAW_SCHEMA}.ops_reviews by name select * from _new_reviews")
        q = pa.Table.from_pylist([{**r, "_loaded_at": now} for r in parsed.quarantine],
                                 schema=_quarantine_schema())
        con.register("_new_quarantine", q)
        con.execute(f"insert into {RAW_SCHEMA}.{QUARANTINE_TABLE} by name select * from _new_quarantine")
        quarantined = con.execute(
            f"select count(*) from {RAW_SCHEMA}.{QUARANTINE_TABLE} where _loaded_at = ?",
            [now]).fetchall()[0][0]
        if (loaded + quarantined + parsed.collapsed_duplicates + parsed.label_rows_applied
                != parsed.rows_read + parsed.label_rows_read):
            con.execute("rollback")
            raise BotsiftError(
                f"load does not reconcile in the warehouse: read {parsed.rows_read} rows "
                f"(+{parsed.label_rows_read} label rows), wrote {loaded} accounts and "
                f"{quarantined} quarantine rows, collapsed {parsed.collapsed_duplicates}, "
                f"applied {parsed.label_rows_applied} label rows; rolled back")
        con.execute("commit")
        if replace:
            warn_if_built(con, "botsift load-accounts --replace")
    finally:
        con.close()
    reasons: dict[str, int] = {}
    for r in parsed.quarantine:
        kind = r["reason"].split(":")[0]
        if kind == "unparseable":
            kind = "unparseable " + r["reason"].split(" ", 1)[1].split(":")[0]
        reasons[kind] = reasons.get(kind, 0) + 1
    bots = sum(1 for v in parsed.labels.values() if v[0] == 1)
    summary = LoadSummary(
        mapping=parsed.mapping, files=parsed.files, encodings=parsed.encodings,
        rows_read=parsed.rows_read, rows_loaded=int(loaded), rows_quarantined=int(quarantined),
        collapsed_duplicates=parsed.collapsed_duplicates, label_rows_read=parsed.label_rows_read,
        label_rows_applied=parsed.label_rows_applied, labels_loaded=len(reviews),
        bots=bots, humans=len(parsed.labels) - bots, ambiguous_dates=parsed.ambiguous_dates,
        snowflake_fallbacks=parsed.snowflake_fallbacks, missing_columns=parsed.missing_columns,
        quarantine_reasons=reasons, warehouse=str(warehouse), labels_overridden=parsed.labels_overridden,
    )
    for line in summary.lines():
        log.info(line)
    return summary


def _review_rows(parsed: ParsedAccounts, now: datetime) -> list[dict[str, Any]]:
    if not parsed.labels:
        return []
    last_export = max(a["exported_at"] for a in parsed.accounts)
    reviewed_at = datetime.combine(last_export.date(), datetime.min.time()) + timedelta(days=1)
    if reviewed_at > now:
        log.warning("imported labels get reviewed_at %s, after the load time: staging will "
                    "quarantine them as future; give the export an earlier exported_at",
                    reviewed_at)
    return [{
        "id": stable_id(f"imported-review:{account_id}"),
        "account_id": account_id,
        "reviewed_at": reviewed_at,
        "decision": "suspended_spam" if label == 1 else "cleared",
        "note": f"imported label from {source}",
        "_loaded_at": now,
    } for account_id, (label, source) in sorted(parsed.labels.items())]

