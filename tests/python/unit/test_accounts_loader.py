"""Tests for botsift.accounts_loader: messy exports in, reconciled raw tables out.

Every fixture is written by the test itself; nothing reads ../shared/datasets.
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from botsift.accounts_loader import (
    PRESETS,
    load_accounts,
    load_mapping,
    parse_accounts,
    parse_bool,
    parse_timestamp,
    snowflake_time,
    stable_id,
)
from botsift.errors import BotsiftError
from botsift.schema import RAW_TABLES
from scored_warehouse import query_rows

NOW = datetime(2026, 1, 15, 12, 0, 0)

# A messy export: latin-1 text, 1/blank and TRUE/False booleans, three date formats, an exact
# duplicate (rows 2 and 3), one id labelled both ways (rows 4 and 5), a bad counter (row 6),
# a row with no created_at and a pre-snowflake id (row 7), no listed_count or url columns.
MESSY_HEADER = "user_id,handle,full_name,bio,made,followers,following,tweets,likes,default_img,is_verified,crawl,kind\n"
MESSY_ROWS = [
    '101,alice,José Núñez,"café, olé",Sat Oct 17 22:35:31 +0000 2015,10,20,30,1,1,TRUE,2017-04-01 10:00:00,human',
    "102,bot123,Bot,,13/03/2017 22:21,0,500,3,0,,False,2017-04-01 10:00:00,bot",
    "102,bot123,Bot,,13/03/2017 22:21,0,500,3,0,,False,2017-04-01 10:00:00,bot",
    "103,flip,Flip,,2016-05-04,5,5,5,5,,FALSE,2017-04-01 10:00:00,bot",
    "103,flip,Flip,,2016-05-04,5,5,5,5,,FALSE,2017-04-01 10:00:00,human",
    "104,badcount,Bad,,2016-05-04,abc,5,5,5,,,2017-04-01 10:00:00,human",
    "105,nodate,No Date,,,1,1,1,1,,,2017-04-01 10:00:00,human",
    "106,carol,Carol,hi,3/13/2017 9:05,7,8,9,1,0,True,2017-04-01 10:00:00,human",
]
MESSY_MAPPING = """
name: messy
key: {source: user_id, strategy: numeric}
columns:
  created_at: made
  screen_name: handle
  name: full_name
  description: bio
  followers_count: followers
  friends_count: following
  statuses_count: tweets
  favourites_count: likes
  listed_count: listed          # absent from the file: null, not a crash
  url: homepage                 # absent too
  default_profile_image: default_img
  verified: is_verified
  exported_at: crawl
defaults: {region: eu, signup_client: web}
label: {source: kind, positive: [bot], negative: [human]}
"""


@pytest.fixture
def messy(tmp_path: Path) -> tuple[Path, Path]:
    csv_path = tmp_path / "export.csv"
    csv_path.write_bytes((MESSY_HEADER + "\n".join(MESSY_ROWS) + "\n").encode("latin-1"))
    mapping = tmp_path / "mapping.yml"
    mapping.write_text(MESSY_MAPPING)
    return csv_path, mapping


# ------------------------------------------------------------------ value parsers
@pytest.mark.parametrize(("raw", "expected"), [
    ("1", True), ("1.0", True), ("", False), (None, False), ("TRUE", True), ("False", False),
    ("true", True), ("FALSE", False), ("0", False), (1, True), (0.0, False), (True, True),
])
def test_parse_bool_accepts_export_spellings(raw: object, expected: bool) -> None:
    assert parse_bool(raw) is expected


def test_parse_bool_rejects_other_values() -> None:
    with pytest.raises(ValueError, match="not a boolean"):
        parse_bool("maybe")


def test_parse_timestamp_formats() -> None:
    assert parse_timestamp("Sat Oct 17 22:35:31 +0000 2015")[0] == datetime(2015, 10, 17, 22, 35, 31)
    assert parse_timestamp("Sat Oct 17 22:35:31 +0200 2015")[0] == datetime(2015, 10, 17, 20, 35, 31)
    assert parse_timestamp("2015-02-14 10:54:49")[0] == datetime(2015, 2, 14, 10, 54, 49)
    assert parse_timestamp("2015-02-14T10:54:49Z")[0] == datetime(2015, 2, 14, 10, 54, 49)
    assert parse_timestamp("2016-05-04")[0] == datetime(2016, 5, 4)
    # unambiguous slashed dates, whatever day_first says
    assert parse_timestamp("13/03/2017 22:21", day_first=False)[0] == datetime(2017, 3, 13, 22, 21)
    assert parse_timestamp("3/13/2017 9:05", day_first=True)[0] == datetime(2017, 3, 13, 9, 5)
    assert parse_timestamp("") == (None, False)


def test_ambiguous_date_rule_then_snowflake_tie_break() -> None:
    assert parse_timestamp("03/04/2017 10:00", day_first=True) == (datetime(2017, 4, 3, 10, 0), True)
    assert parse_timestamp("03/04/2017 10:00", day_first=False) == (datetime(2017, 3, 4, 10, 0), True)
    hint = datetime(2017, 3, 4, 9, 0)
    assert parse_timestamp("03/04/2017 10:00", day_first=True, hint=hint)[0] == datetime(2017, 3, 4, 10, 0)
    # no hint: an account cannot be created after it was exported
    bound = datetime(2017, 3, 20)
    assert parse_timestamp("03/04/2017 10:00", day_first=True, not_after=bound)[0] == datetime(2017, 3, 4, 10, 0)
    assert parse_timestamp("03/02/2017", day_first=False, not_after=bound)[0] == datetime(2017, 3, 2)
    # same day both ways is not ambiguous
    assert parse_timestamp("05/05/2017") == (datetime(2017, 5, 5), False)


def test_account_created_after_its_export_is_quarantined(tmp_path: Path) -> None:
    csv_path = tmp_path / "export.csv"
    csv_path.write_text(MESSY_HEADER + "\n".join([
        "201,early,E,,2016-05-04,1,1,1,1,,,2017-04-01 10:00:00,human",
        "202,late,L,,2017-06-04,1,1,1,1,,,2017-04-01 10:00:00,bot",
        "203,amb,A,,02/05/2017,1,1,1,1,,,2017-04-01 10:00:00,bot",   # 2 May or 5 Feb: Feb
    ]) + "\n")
    mapping = tmp_path / "mapping.yml"
    mapping.write_text(MESSY_MAPPING)
    parsed = parse_accounts([csv_path], load_mapping(mapping))
    assert sorted(a["id"] for a in parsed.accounts) == [201, 203]
    assert next(a for a in parsed.accounts if a["id"] == 203)["created_at"] == datetime(2017, 2, 5)
    assert [q["reason"].split(":")[0] for q in parsed.quarantine] == ["created_after_export"]


def test_parse_timestamp_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_timestamp("last tuesday")
    with pytest.raises(ValueError):
        parse_timestamp("31/31/2017")


def test_snowflake_time() -> None:
    # a status id from 2017-03-13 16:05:22 UTC
    t = snowflake_time(841319282986237952)
    assert t is not None and t.replace(microsecond=0) == datetime(2017, 3, 13, 16, 5, 22)
    assert snowflake_time(3610511) is None  # pre-snowflake sequential id
    assert snowflake_time(None) is None


def test_a_utf8_file_with_one_latin1_line_keeps_its_utf8_text(tmp_path: Path) -> None:
    # a UTF-8 export with one row appended by a latin-1 tool: decoding the whole file as
    # latin-1 turned every UTF-8 "é" into "Ã©" (and "ñ" into "Ã±")
    f = tmp_path / "mixed.csv"
    f.write_bytes("id,created_at,name\n1,2015-01-01,José Núñez\n".encode()
                  + "2,2015-01-01,Renée\n".encode("latin-1")
                  + "3,2015-01-01,Zoë\n".encode())
    parsed = parse_accounts([f], load_mapping())
    names = {r["id"]: r["name"] for r in parsed.accounts}
    assert names == {1: "José Núñez", 2: "Renée", 3: "Zoë"}
    assert parsed.encodings == {"mixed.csv": "utf-8+latin-1 (1 line)"}


def test_stable_id_is_stable_positive_bigint() -> None:
    a, b = stable_id("alice"), stable_id("alice")
    assert a == b and 0 < a < 2**63 and stable_id("bob") != a


# ------------------------------------------------------------------ loading a messy export
def test_messy_export_reconciles_and_quarantines(messy: tuple[Path, Path], tmp_path: Path) -> None:
    csv_path, mapping_path = messy
    wh = tmp_path / "wh.duckdb"
    s = load_accounts([csv_path], wh, mapping=load_mapping(mapping_path), now=NOW)
    assert s.rows_read == 8
    assert s.collapsed_duplicates == 1               # rows 2 and 3
    assert s.rows_quarantined == 4                   # 103 twice, bad counter, no created_at
    assert s.rows_loaded == 3                        # 101, 102, 106
    assert s.rows_read == s.rows_loaded + s.rows_quarantined + s.collapsed_duplicates
    assert s.encodings == {"export.csv": "latin-1"}
    assert s.missing_columns == ["homepage", "listed"]
    assert s.quarantine_reasons == {"conflicting_labels": 2, "unparseable followers_count": 1,
                                    "unparseable created_at": 1}

    rows = {r[0]: r for r in query_rows(wh, """
        select id, created_at, name, description, default_profile_image, verified,
               listed_count, url, region, signup_client, signup_ip, exported_at
        from raw.accounts""")}
    assert set(rows) == {101, 102, 106}
    assert rows[101][1] == datetime(2015, 10, 17, 22, 35, 31)
    assert rows[102][1] == datetime(2017, 3, 13, 22, 21)
    assert rows[106][1] == datetime(2017, 3, 13, 9, 5)
    assert rows[101][2] == "José Núñez" and rows[101][3] == "café, olé"
    assert (rows[101][4], rows[101][5]) == (True, True)      # 1, TRUE
    assert (rows[102][4], rows[102][5]) == (False, False)    # blank, False
    assert (rows[106][4], rows[106][5]) == (False, True)     # 0, True
    assert rows[101][6] is None and rows[101][7] is None     # missing optional columns
    assert rows[101][8:11] == ("eu", "web", None)            # defaults; signup ip left null

    q = query_rows(wh, "select file, row_number, source_key, reason, raw_row from raw.load_quarantine order by row_number")
    assert [r[1] for r in q] == [4, 5, 6, 7]
    assert all(r[0] == "export.csv" for r in q)
    assert q[0][3].startswith("conflicting_labels") and q[0][2] == "103"
    assert json.loads(q[2][4])["followers"] == "abc"
    assert "created_at" in q[3][3]


def test_labels_become_ops_reviews(messy: tuple[Path, Path], tmp_path: Path) -> None:
    csv_path, mapping_path = messy
    wh = tmp_path / "wh.duckdb"
    s = load_accounts([csv_path], wh, mapping=load_mapping(mapping_path), now=NOW)
    assert (s.bots, s.humans, s.labels_loaded) == (1, 2, 3)
    reviews = {r[0]: r[1:] for r in query_rows(wh, "select account_id, decision, reviewed_at, note from raw.ops_reviews")}
    assert reviews[102][0] == "suspended_spam" and reviews[101][0] == "cleared"
    # the day after the latest export: the label joins the export-date feature snapshot
    assert {r[1] for r in reviews.values()} == {datetime(2017, 4, 2)}
    assert reviews[106][2] == "imported label from export.csv"
    for table in ("posts", "logins", "follows", "interactions"):
        assert query_rows(wh, f"select count(*) from raw.{table}") == [(0,)]
        cols = [r[0] for r in query_rows(wh, f"select column_name from information_schema.columns where table_schema = 'raw' and table_name = '{table}'")]
        assert cols == [f.name for f in RAW_TABLES[table]]


def test_reload_is_idempotent_and_replace_empties(messy: tuple[Path, Path], tmp_path: Path) -> None:
    csv_path, mapping_path = messy
    wh = tmp_path / "wh.duckdb"
    mp = load_mapping(mapping_path)
    load_accounts([csv_path], wh, mapping=mp, now=NOW)
    load_accounts([csv_path], wh, mapping=mp, now=datetime(2026, 1, 16))
    assert query_rows(wh, "select count(*), count(distinct id) from raw.accounts") == [(3, 3)]
    assert query_rows(wh, "select count(*) from raw.ops_reviews") == [(3,)]
    load_accounts([csv_path], wh, mapping=mp, now=NOW, replace=True)
    assert query_rows(wh, "select count(*) from raw.load_quarantine") == [(4,)]


def test_mangled_ids_quarantined_unless_keyed_on_screen_name(tmp_path: Path) -> None:
    f = tmp_path / "k.csv"
    f.write_text("id,id_str,screen_name,created_at,bot\n"
                 "7.01E+17,7.01E+17,Alpha,13/03/2017 22:21,1\n"
                 "841319282986237952,841319282986237952,beta,03/13/2017 16:05,0\n"
                 "8.41E+17,8.41E+17,ALPHA,13/03/2017 22:21,1\n")
    numeric = tmp_path / "n.yml"
    numeric.write_text("key: {source: id}\ncolumns: {created_at: created_at}\nlabel: {source: bot}\n")
    p = parse_accounts([f], load_mapping(numeric))
    assert len(p.accounts) == 1 and all(q["reason"].startswith("bad_key") for q in p.quarantine)
    hashed = tmp_path / "h.yml"
    hashed.write_text("key: {source: screen_name, strategy: hash}\nsnowflake_source: id_str\n"
                      "columns: {created_at: {source: created_at, day_first: true}, screen_name: screen_name}\n"
                      "label: {source: bot}\n")
    p = parse_accounts([f], load_mapping(hashed))
    # Alpha and ALPHA are one account (case-insensitive key) exported with different ids
    assert {a["id"] for a in p.accounts} == {stable_id("alpha"), stable_id("beta")}
    assert [q["reason"].split(":")[0] for q in p.quarantine] == ["duplicate_key"]
    assert p.rows_read == len(p.accounts) + len(p.quarantine) + p.collapsed_duplicates


def test_snowflake_resolves_ambiguous_date_and_fills_missing(tmp_path: Path) -> None:
    f = tmp_path / "s.csv"
    # 841319282986237952 was created 2017-03-13; 03/04 would be read day-first as 3 April
    f.write_text("id,created_at,bot\n841319282986237952,,1\n"
                 "841319282986237952,,1\n"
                 "3610511,03/04/2007,0\n")
    m = tmp_path / "m.yml"
    m.write_text("key: {source: id}\ncolumns: {created_at: created_at}\nlabel: {source: bot}\n")
    p = parse_accounts([f], load_mapping(m))
    created = {a["id"]: a["created_at"] for a in p.accounts}
    assert created[841319282986237952].date() == datetime(2017, 3, 13).date()
    assert created[3610511] == datetime(2007, 4, 3)  # no snowflake: the day_first rule
    assert (p.snowflake_fallbacks, p.ambiguous_dates, p.collapsed_duplicates) == (1, 1, 1)


def test_headerless_tsv_with_file_labels_and_length_placeholders(tmp_path: Path) -> None:
    d = tmp_path / "set"
    d.mkdir()
    (d / "polluters.txt").write_text("1\t2009-01-01 00:00:00\t2010-01-01 00:00:00\t10\t2\t100\t8\t0\n"
                                     "7\t2009-01-01 00:00:00\t2010-01-01 00:00:00\t10\t2\t100\t8\t0\n")
    (d / "legit.txt").write_text("2\t2008-01-01 00:00:00\t2009-11-01 00:00:00\t5\t50\t10\t6\t40\n"
                                 "7\t2009-01-01 00:00:00\t2010-01-01 00:00:00\t10\t2\t100\t8\t0\n"
                                 "\n")
    (d / "README").write_text("not an export")
    m = tmp_path / "m.yml"
    m.write_text("""
files: ["polluters.txt", "legit.txt"]
header: false
delimiter: "\\t"
source_columns: [uid, created, collected, following, followers, tweets, sn_len, desc_len]
key: {source: uid}
columns:
  created_at: created
  exported_at: collected
  friends_count: following
  followers_count: followers
  statuses_count: tweets
  screen_name: {source: sn_len, transform: length_placeholder}
  description: {source: desc_len, transform: length_placeholder}
label: {files: {polluters.txt: bot, legit.txt: human}}
""")
    p = parse_accounts([d], load_mapping(m))
    assert p.rows_read == 5
    assert {a["id"] for a in p.accounts} == {1, 2}
    assert sorted(q["reason"].split(":")[0] for q in p.quarantine) == ["blank_line", "conflicting_labels", "conflicting_labels"]
    two = next(a for a in p.accounts if a["id"] == 2)
    assert (len(two["screen_name"]), len(two["description"])) == (6, 40)
    assert p.labels == {1: (1, "polluters.txt"), 2: (0, "legit.txt")}


def test_a_blank_label_loads_the_account_unlabelled(tmp_path: Path) -> None:
    # an export labels the accounts ops reviewed and leaves the rest blank: those are the
    # accounts to score, not bad rows (they were quarantined as bad_label); a value outside
    # the mapping's label values still is one
    f = tmp_path / "x.csv"
    f.write_text("id,created_at,kind\n1,2015-01-01,bot\n2,2015-01-01,\n3,2015-01-01,  \n4,2015-01-01,maybe\n")
    (tmp_path / "m.yml").write_text("key: {source: id}\ncolumns: {created_at: created_at}\n"
                                    "label: {source: kind, positive: [bot], negative: [human]}\n")
    p = parse_accounts([f], load_mapping(tmp_path / "m.yml"))
    assert sorted(a["id"] for a in p.accounts) == [1, 2, 3]
    assert {k: v[0] for k, v in p.labels.items()} == {1: 1}
    assert [q["reason"].split(":")[0] for q in p.quarantine] == ["bad_label"]


def test_parquet_and_json_and_labels_file(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": [1, 2, 3], "created_at": ["2015-01-01", "2015-02-01", "2015-03-01"],
                             "followers_count": [1, 2, None]}), tmp_path / "a.parquet")
    (tmp_path / "a.json").write_text('{"id": 4, "created_at": "2015-01-01", "verified": true}\n'
                                     '{"id": 5, "created_at": "2015-01-02", "verified": false}\n')
    (tmp_path / "labels.csv").write_text("id,label\n1,1\n2,0\n4,bot\n99,1\nx,1\n5,\n")
    wh = tmp_path / "wh.duckdb"
    s = load_accounts([tmp_path / "a.parquet", tmp_path / "a.json"], wh,
                      labels_file=tmp_path / "labels.csv", now=NOW)
    assert s.rows_loaded == 5 and (s.bots, s.humans) == (2, 1)
    assert query_rows(wh, "select followers_count from raw.accounts where id = 3") == [(None,)]
    reasons = sorted(r[0].split(":")[0] for r in query_rows(wh, "select reason from raw.load_quarantine"))
    assert reasons == ["bad_label_row", "bad_label_row", "label_for_unknown_account"]
    # exported_at defaults to the end of the day before the load
    assert query_rows(wh, "select distinct exported_at from raw.accounts") == [(datetime(2026, 1, 14, 23, 59, 59, 999999),)]


@pytest.mark.parametrize("preset", PRESETS)
def test_presets_parse(preset: str) -> None:
    m = load_mapping(preset=preset)
    assert m.name == preset and m.has_labels and "created_at" in m.columns
    assert m.defaults["region"] == "na"


def test_kaggle_preset_keys_on_screen_name() -> None:
    m = load_mapping(preset="kaggle-2017")
    assert (m.key_source, m.key_strategy, m.snowflake_source) == ("screen_name", "hash", "id_str")
    assert not load_mapping(preset="caverlee-2011").header


def test_labels_file_without_key_or_label_column_is_an_error(tmp_path: Path, caplog) -> None:
    (tmp_path / "a.csv").write_text("id,created_at\n1,2015-01-01\n")
    (tmp_path / "labels.csv").write_text("account,is_bot\n1,1\n")
    with pytest.raises(BotsiftError, match=r"labels file .*labels.csv has no 'id' or 'label' "
                                           r"column \(columns: account, is_bot\)"):
        parse_accounts([tmp_path / "a.csv"], load_mapping(), labels_file=tmp_path / "labels.csv")
    (tmp_path / "labels.csv").write_text("id,label\n")  # header only: nothing to label
    parsed = parse_accounts([tmp_path / "a.csv"], load_mapping(), labels_file=tmp_path / "labels.csv")
    assert parsed.labels == {}
    assert "labels file labels.csv holds no label rows" in caplog.text


@pytest.mark.parametrize(("text", "match"), [
    ("key: {source: id}\ncolumns: {followers: x}\n", "not a raw.accounts column"),
    ("columns: {screen_name: sn}\n", "key"),
    ("key: {source: id, strategy: guess}\n", "strategy"),
    ("key: {source: id}\nheader: false\n", "source_columns"),
    ("key: {source: id}\nbogus: 1\n", "unknown top-level"),
    ("key: [id\n", r"not valid YAML at line 2, column 1: expected ',' or ']'"),
    ("key: {source: id}\ncolumns: 5\n", r"columns must be a mapping, not int \(5\)"),
    ("key: [id]\n", "key must be a column name or a mapping, not list"),
    ("key: {source: id}\ndefaults: [region]\n", "defaults must be a mapping, not list"),
    ("key: {source: id}\nfiles: a.csv\n", "files must be a list, not str"),
    ("key: {source: id}\nlabel: 3\n", "label must be a mapping, not int"),
    ("key: {source: id}\nlabel: {files: [a.csv]}\n", "label.files must be a mapping"),
    ("key: {source: id}\ndelimiter: ';;'\n", "delimiter must be one character, not ';;'"),
    ("key: {source: id}\nfallback_encoding: klingon\n", "unknown fallback_encoding 'klingon'"),
    ("key: {source: id}\ncolumns: {created_at: {source: c, day_first: 'false'}}\n",
     "column 'created_at': day_first must be true or false, not 'false'"),
    # twentieth-session audit: each of these loaded (or crashed later) instead
    ("key: {source: id}\nfallback_encoding: rot13\n", "unknown fallback_encoding 'rot13'"),
    ("key: {source: id}\nlabel: {souce: label}\n", r"unknown label keys \['souce'\]"),
    ("key: {source: sn, stratgy: hash}\n", r"unknown key options \['stratgy'\]"),
    ("key: {source: id}\nlabel: {files: {spammers.csv: spambot}}\n",
     r"label.files\['spammers.csv'\] is 'spambot'"),
    ("key: {source: id}\nfiles: [1]\n", "files entries are file-name patterns"),
    ("key: {source: id}\nfiles: ['']\n", "files entries are file-name patterns"),
    ("key: {source: id}\nfiles: [/abs/*.csv]\n", "files entries are file-name patterns"),
    ("key: {source: id}\ncolumns: {screen_name: {source: [a]}}\n",
     "column 'screen_name': a source column must be a column name"),
    ("key: {source: id}\nlabel: {positive: [{a: 1}]}\n", "label values must be text or numbers"),
    ("name: team/export\nkey: {source: id}\n", "name 'team/export' names files"),
])
def test_bad_mappings_raise(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "m.yml"
    p.write_text(text)
    with pytest.raises(BotsiftError, match=match) as info:
        load_mapping(p)
    assert len(str(info.value).splitlines()) == 1  # one line, whatever the YAML parser said


def test_missing_key_column_raises(tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text("handle,created_at\nalice,2015-01-01\n")
    with pytest.raises(BotsiftError, match="key column 'id'"):
        parse_accounts([f], load_mapping())


def test_header_only_export_knows_its_columns(tmp_path: Path, caplog: pytest.LogCaptureFixture
                                              ) -> None:
    f = tmp_path / "x.csv"
    f.write_text("id,created_at,followers_count\n")
    parsed = parse_accounts([f], load_mapping())
    assert parsed.rows_read == 0 and parsed.accounts == []
    assert "x.csv holds no account rows" in caplog.text
    # created_at and followers_count are in the header: not reported absent
    assert "'created_at' is not in the export" not in caplog.text
    assert "'friends_count' is not in the export" in caplog.text
    f.write_text("handle,created_at\n")
    with pytest.raises(BotsiftError, match=r"key column 'id' is not in the export \(columns: created_at, handle\)"):
        parse_accounts([f], load_mapping())


def test_unknown_format_and_unreadable_parquet_are_errors(tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text("id\n1\n")
    with pytest.raises(BotsiftError, match="unknown format 'xml': use csv, parquet or json"):
        parse_accounts([f], load_mapping(), fmt="xml")
    bad = tmp_path / "x.parquet"
    bad.write_bytes(b"id\n1\n" * 100)
    with pytest.raises(BotsiftError, match=r"x.parquet: not a readable Parquet file \("):
        parse_accounts([bad], load_mapping())


def test_cli_load_accounts(messy: tuple[Path, Path], tmp_path: Path) -> None:
    from botsift.cli import app

    csv_path, mapping_path = messy
    wh = tmp_path / "cli.duckdb"
    res = CliRunner().invoke(app, ["load-accounts", str(csv_path), "--mapping", str(mapping_path),
                                   "--warehouse", str(wh)])
    assert res.exit_code == 0, res.output
    assert "rows read 8 = loaded 3 + quarantined 4 + collapsed duplicates 1" in res.output
    res = CliRunner().invoke(app, ["load-accounts", str(csv_path), "--preset", "nope",
                                   "--warehouse", str(wh)])
    assert res.exit_code == 1 and "unknown preset" in res.output and "Traceback" not in res.output
    # a load that loads nothing fails (a scheduler must not see success), after its summary
    bad = tmp_path / "bad.csv"
    bad.write_text("id,created_at\nx,2015-01-01\n2,not a date\n")
    res = CliRunner().invoke(app, ["load-accounts", str(bad), "--warehouse", str(tmp_path / "b.duckdb")],
                             env={"COLUMNS": "300"})
    assert res.exit_code == 1, res.output
    assert "rows read 2 = loaded 0 + quarantined 2" in res.output
    assert "error: no account loaded: of 2 rows read, 2 were quarantined" in res.output


def test_an_id_labelled_both_ways_gets_no_label_when_one_copy_fails_another_rule(
        tmp_path: Path) -> None:
    # 301: the bot copy has a bad counter; 302: the bot copy was created after its export
    csv_path = tmp_path / "export.csv"
    csv_path.write_text(MESSY_HEADER + "\n".join([
        "301,a,A,,2016-05-04,abc,1,1,1,,,2017-04-01 10:00:00,bot",
        "301,a,A,,2016-05-04,1,1,1,1,,,2017-04-01 10:00:00,human",
        "302,b,B,,2017-06-04,1,1,1,1,,,2017-04-01 10:00:00,bot",
        "302,b,B,,2016-06-04,1,1,1,1,,,2017-04-01 10:00:00,human",
    ]) + "\n")
    mapping = tmp_path / "mapping.yml"
    mapping.write_text(MESSY_MAPPING)
    parsed = parse_accounts([csv_path], load_mapping(mapping))
    assert parsed.accounts == [] and parsed.labels == {}
    assert sorted(q["reason"].split(":")[0] for q in parsed.quarantine) == [
        "conflicting_labels", "conflicting_labels", "created_after_export", "unparseable followers_count"]


def test_a_key_labelled_both_ways_in_a_labels_file_gets_no_label(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,created_at\n1,2015-01-01\n2,2015-01-01\n")
    (tmp_path / "labels.csv").write_text("id,label\n1,1\n1,0\n1,0\n2,1\n")
    wh = tmp_path / "wh.duckdb"
    s = load_accounts([tmp_path / "a.csv"], wh, labels_file=tmp_path / "labels.csv", now=NOW)
    assert (s.bots, s.humans) == (1, 0)
    rows = query_rows(wh, "select row_number, reason from raw.load_quarantine order by row_number")
    assert [(n, r.split(":")[0]) for n, r in rows] == [
        (1, "conflicting_labels"), (2, "conflicting_labels"), (3, "conflicting_labels")]


def test_counters_beyond_bigint_are_quarantined_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,created_at,followers_count\n"
                                    "1,2015-01-01,99999999999999999999999\n2,2015-01-01,5\n")
    s = load_accounts([tmp_path / "a.csv"], tmp_path / "wh.duckdb", now=NOW)
    assert s.rows_loaded == 1 and s.rows_quarantined == 1
    assert query_rows(tmp_path / "wh.duckdb", "select reason from raw.load_quarantine") == [
        ("unparseable followers_count: out of BIGINT range: '99999999999999999999999'",)]


def test_broken_csv_quoting_and_repeated_header_names_are_errors(tmp_path: Path) -> None:
    stray = tmp_path / "stray.csv"
    stray.write_text('id,created_at,description\n1,2015-01-01,"unterminated\n2,2015-01-01,x\n'
                     '3,2015-01-01,y\n')
    with pytest.raises(BotsiftError, match=r"stray\.csv: not valid CSV at line 4: unexpected end "
                                           r"of data; fix the quoting there"):
        parse_accounts([stray], load_mapping(None))
    dup = tmp_path / "dup.csv"
    dup.write_text("id,screen_name,screen_name\n1,a,b\n")
    with pytest.raises(BotsiftError, match="header names screen_name more than once"):
        parse_accounts([dup], load_mapping(None))
    short = tmp_path / "short.csv"
    long_bio = "x" * 200_000  # past the csv module's default field limit
    short.write_text(f"id,created_at,description\n1,2015-01-01\n2,2015-01-01,{long_bio}\n")
    parsed = parse_accounts([short], load_mapping(None))
    assert [q["reason"] for q in parsed.quarantine] == ["wrong_field_count: 2 fields, expected 3"]
    assert len(parsed.accounts[0]["description"]) == 200_000


def test_numeric_keys_with_leading_zeros_absent_flags_and_binary_text(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # 00123 and 123 are one account (the later export is kept); no verified column at all
    (tmp_path / "a.csv").write_text("id,created_at,exported_at,default_profile_image\n"
                                    "00123,2015-01-01,2017-01-01,1\n123,2015-01-01,2017-02-01,\n")
    (tmp_path / "labels.csv").write_text("id,label\n0123,1\n")
    # screen names written as Parquet binary (no UTF-8 annotation)
    pq.write_table(pa.table({"id": [7], "created_at": ["2015-01-01"],
                             "screen_name": pa.array([b"caf\xc3\xa9"], pa.binary())}),
                   tmp_path / "b.parquet")
    wh = tmp_path / "wh.duckdb"
    s = load_accounts([tmp_path / "a.csv", tmp_path / "b.parquet"], wh,
                      labels_file=tmp_path / "labels.csv", now=NOW)
    assert (s.rows_loaded, s.rows_quarantined, s.bots) == (2, 1, 1)
    assert [r[0].split(":")[0] for r in query_rows(wh, "select reason from raw.load_quarantine")] == [
        "duplicate_key"]
    assert query_rows(wh, "select id, verified, default_profile_image, screen_name from raw.accounts "
                      "order by id") == [(7, None, None, "café"), (123, None, False, None)]


def test_format_names_the_exports_format_not_the_labels_files(tmp_path: Path) -> None:
    (tmp_path / "a.export").write_text('{"id": 1, "created_at": "2015-01-01"}\n')
    (tmp_path / "labels.csv").write_text("id,label\n1,1\n")
    s = load_accounts([tmp_path / "a.export"], tmp_path / "wh.duckdb", fmt="json",
                      labels_file=tmp_path / "labels.csv", now=NOW)
    assert (s.rows_loaded, s.bots) == (1, 1)


# ------------------------------------------------------------------ found by an input audit
@pytest.mark.parametrize(("text", "match"), [
    ("key: {source: id}\ndefaults: {verified: perhaps}\n", "default for verified: not a boolean: 'perhaps'"),
    ("key: {source: id}\ndefaults: {followers_count: 1.5}\n", "default for followers_count: not an integer: 1.5"),
    ("key: {source: id}\ncolumns: {verified: {value: perhaps}}\n", "value for verified: not a boolean"),
    ("key: {source: id}\ncolumns:\n  screen_name: handle\n  screen_name: id\n",
     r"'screen_name' is given twice \(lines 3 and 4\)"),
    ("key: {source: id}\nheader: false\nsource_columns: [id, created_at, id]\n",
     "source_columns names id more than once"),
    ("key: {source: id}\nheader: 'false'\nsource_columns: [id]\n", "header must be true or false, not 'false'"),
    ("key: {source: id, lowercase: 'no'}\n", "key: lowercase must be true or false, not 'no'"),
])
def test_bad_mapping_constants_and_repeats_raise_one_line(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "m.yml"
    p.write_text(text)
    with pytest.raises(BotsiftError, match=match) as info:
        load_mapping(p)
    assert len(str(info.value).splitlines()) == 1


def test_mapping_defaults_are_parsed_as_their_columns(tmp_path: Path) -> None:
    p = tmp_path / "m.yml"
    # YAML reads 2016-01-01 as a date and 5 as a number: both become the column's type
    p.write_text("key: {source: id}\ncolumns: {created_at: created_at}\n"
                 "defaults: {exported_at: 2016-01-01, region: 5, verified: 'yes'}\n")
    m = load_mapping(p)
    assert m.defaults == {"exported_at": datetime(2016, 1, 1), "region": "5", "verified": True}
    (tmp_path / "a.csv").write_text("id,created_at\n1,2015-01-01\n")
    s = load_accounts([tmp_path / "a.csv"], tmp_path / "wh.duckdb", mapping=m, now=NOW)
    assert s.rows_loaded == 1
    assert query_rows(tmp_path / "wh.duckdb", "select exported_at, region, verified from raw.accounts") == [
        (datetime(2016, 1, 1), "5", True)]


def test_a_fallback_encoding_that_cannot_decode_a_line_is_one_error(tmp_path: Path) -> None:
    p = tmp_path / "m.yml"
    p.write_text("key: {source: id}\nfallback_encoding: ascii\n")
    f = tmp_path / "a.csv"
    f.write_bytes(b"id,created_at,screen_name\n1,2015-01-01,caf\xe9\n")
    with pytest.raises(BotsiftError, match=r"a.csv: line 2 is neither UTF-8 nor ascii"):
        parse_accounts([f], load_mapping(p))
    p.write_text("key: {source: id}\nfallback_encoding: utf-32\n")  # not ASCII-compatible
    with pytest.raises(BotsiftError, match=r"a.csv: byte \d+ is neither UTF-8 nor utf-32"):
        parse_accounts([f], load_mapping(p))


def test_an_export_from_the_future_is_quarantined_and_other_labels_survive(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text("id,created_at,exported_at,label\n1,2015-01-01,9999-12-31,1\n"
                 "2,2015-01-01,2016-01-01,0\n3,2015-01-01,2016-01-01,1\n")
    m = tmp_path / "m.yml"
    m.write_text("key: {source: id}\ncolumns: {created_at: created_at, exported_at: exported_at}\n"
                 "label: {source: label}\n")
    wh = tmp_path / "wh.duckdb"
    s = load_accounts([f], wh, mapping=load_mapping(m), now=NOW)
    assert (s.rows_loaded, s.rows_quarantined, s.bots, s.humans) == (2, 1, 1, 1)
    assert query_rows(wh, "select reason from raw.load_quarantine") == [
        ("exported_after_load: exported_at 9999-12-31 00:00:00 is after the load time "
         "2026-01-15 12:00:00 (UTC)",)]
    assert query_rows(wh, "select distinct reviewed_at from raw.ops_reviews") == [(datetime(2016, 1, 2),)]


def test_epoch_numbers_huge_snowflakes_and_non_ascii_digits_are_not_read(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="a bare number"):
        parse_timestamp("1420070400000")
    with pytest.raises(ValueError, match="a bare number"):
        parse_timestamp(1420070400)
    assert parse_timestamp("20150101") == (datetime(2015, 1, 1), False)  # ISO basic date
    assert snowflake_time(10**32) is None
    m = tmp_path / "m.yml"
    m.write_text("key: {source: screen_name, strategy: hash}\nsnowflake_source: twid\n"
                 "columns: {created_at: created_at, followers_count: followers}\n")
    f = tmp_path / "a.csv"
    f.write_text("screen_name,twid,created_at,followers\nalice,99999999999999999999999999999999,,1\n"
                 "bob,1,2015-01-01,\u0664\u0664\n")
    parsed = parse_accounts([f], load_mapping(m), now=NOW)
    assert sorted(q["reason"] for q in parsed.quarantine) == [
        "unparseable created_at: missing and the id encodes no creation time",
        "unparseable followers_count: not an integer: '\u0664\u0664'"]


def test_a_label_on_an_older_copy_survives_keeping_the_latest(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text("id,created_at,exported_at,label\n4,2015-01-01,2016-01-01,1\n"
                 "4,2015-01-01,2016-02-01,\n")
    m = tmp_path / "m.yml"
    m.write_text("key: {source: id}\ncolumns: {created_at: created_at, exported_at: exported_at}\n"
                 "label: {source: label}\n")
    parsed = parse_accounts([f], load_mapping(m), now=NOW)
    assert [a["exported_at"] for a in parsed.accounts] == [datetime(2016, 2, 1)]
    assert parsed.labels == {4: (1, "a.csv")}
    assert [q["reason"] for q in parsed.quarantine] == ["duplicate_key: kept a.csv:2"]


def test_a_label_column_missing_from_the_export_is_an_error(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text("id,created_at\n1,2015-01-01\n")
    m = tmp_path / "m.yml"
    m.write_text("key: {source: id}\ncolumns: {created_at: created_at}\nlabel: {source: nolabelcol}\n")
    with pytest.raises(BotsiftError, match=r"label column 'nolabelcol' .* is not in the export "
                                           r"\(columns: created_at, id\)"):
        parse_accounts([f], load_mapping(m), now=NOW)


def test_gzip_utf16_tsv_and_unnamed_columns_are_read(tmp_path: Path) -> None:
    import gzip

    (tmp_path / "a.csv.gz").write_bytes(gzip.compress(b"id,created_at\n1,2015-01-01\n"))
    (tmp_path / "b.csv").write_bytes("id,created_at,screen_name\n2,2015-01-01,Jos\u00e9\n".encode("utf-16"))
    (tmp_path / "c.tsv").write_text("id\tcreated_at\n3\t2015-01-01\n")
    (tmp_path / "d.csv").write_text("id,created_at,,\n4,2015-01-01,,\n")
    parsed = parse_accounts([tmp_path], load_mapping(None), now=NOW)
    assert sorted(a["id"] for a in parsed.accounts) == [1, 2, 3, 4]
    assert parsed.encodings["b.csv"] == "utf-16" and parsed.quarantine == []
    assert [a["screen_name"] for a in parsed.accounts if a["id"] == 2] == ["Jos\u00e9"]


def test_binary_files_and_broken_json_lines_name_the_problem(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": [1]}), tmp_path / "p.csv")
    with pytest.raises(BotsiftError, match="p.csv: is a Parquet file, not csv text: name it .parquet"):
        parse_accounts([tmp_path / "p.csv"], load_mapping(None))
    (tmp_path / "j.jsonl").write_text('{"id": 1}\n{"id": 2,}\n')
    with pytest.raises(BotsiftError, match=r"j.jsonl: line 2 is not valid JSON"):
        parse_accounts([tmp_path / "j.jsonl"], load_mapping(None))
    (tmp_path / "z.csv").write_text("id,created_at\n0,2015-01-01\n-5,2015-01-01\n")
    parsed = parse_accounts([tmp_path / "z.csv"], load_mapping(None), now=NOW)
    assert [q["reason"] for q in parsed.quarantine] == [
        "bad_key: key id='0' is not a positive id", "bad_key: key id='-5' is not a positive id"]


def test_real_accounts_are_not_mixed_into_a_simulation(tmp_path: Path, caplog: pytest.LogCaptureFixture
                                                       ) -> None:
    import duckdb

    from botsift.simulate import SimulationConfig, simulate_platform

    wh = tmp_path / "wh.duckdb"
    simulate_platform(SimulationConfig(n_accounts=200, days=3, seed=1), wh)
    (tmp_path / "a.csv").write_text("id,created_at\n1,2015-01-01\n")
    with pytest.raises(BotsiftError, match=r"holds a simulation \(raw._simulation\): loading real "
                                           "accounts would mix them .* pass --replace"):
        load_accounts([tmp_path / "a.csv"], wh, now=NOW)
    assert query_rows(wh, "select count(*) > 100 from raw.accounts") == [(True,)]
    # refused before anything was created in it
    assert query_rows(wh, "select count(*) from duckdb_tables() where table_name = 'load_quarantine'"
                      ) == [(0,)]
    # a warehouse dbt built from the simulation: --replace empties it and says to rebuild fully
    con = duckdb.connect(str(wh))
    con.execute("create schema marts; create table marts.fct_account_features as select 1 as x")
    con.close()
    s = load_accounts([tmp_path / "a.csv"], wh, now=NOW, replace=True)
    assert s.rows_loaded == 1
    assert query_rows(wh, "select count(*) from raw.accounts union all select count(*) from raw.posts "
                      "union all select count(*) from duckdb_tables() where table_name like '_simulation%'"
                      ) == [(1,), (0,), (0,)]
    assert "run `dbt build --full-refresh` next" in caplog.text
    caplog.clear()
    simulate_platform(SimulationConfig(n_accounts=200, days=3, seed=1), wh)
    assert "botsift simulate replaced the raw tables of a warehouse dbt has built" in caplog.text


def test_a_labels_file_that_contradicts_the_export_wins_and_is_counted(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,created_at,kind\n1,2015-01-01,bot\n2,2015-01-01,human\n"
                                    "3,2015-01-01,\n")
    (tmp_path / "mapping.yml").write_text(
        "key: {source: id}\ncolumns: {created_at: created_at}\n"
        "label: {source: kind, positive: [bot], negative: [human]}\n")
    (tmp_path / "labels.csv").write_text("id,kind\n1,human\n2,human\n3,bot\n")
    s = load_accounts([tmp_path / "a.csv"], tmp_path / "wh.duckdb",
                      mapping=load_mapping(tmp_path / "mapping.yml"),
                      labels_file=tmp_path / "labels.csv", now=NOW)
    # account 1 changed bot -> human; 2 agreed; 3 had no export label
    assert (s.bots, s.humans, s.labels_overridden) == (1, 2, 1)
    assert "the labels file changed 1 label(s) the export gave" in "\n".join(s.lines())


def test_yaml_reads_only_true_and_false_as_booleans(tmp_path: Path) -> None:
    """YAML 1.1 made `positive: [yes]` the boolean true (never matching an export's "yes")
    and `lang: no` the text "False"; numbers in label lists compare as the export's do."""
    m = tmp_path / "m.yml"
    m.write_text("key: {source: id}\ncolumns: {created_at: c, exported_at: e}\n"
                 "defaults: {lang: no}\nlabel: {source: is_bot, positive: [yes, 1.0], negative: [no, 0]}\n")
    mapping = load_mapping(m)
    assert mapping.defaults["lang"] == "no"
    assert mapping.label_positive == ("yes", "1") and mapping.label_negative == ("no", "0")
    f = tmp_path / "x.csv"
    f.write_text("id,c,e,is_bot\n1,2015-01-01,2016-01-01,yes\n2,2015-01-01,2016-01-01,no\n"
                 "3,2015-01-01,2016-01-01,1.0\n")
    parsed = parse_accounts([f], mapping)
    assert {k: v[0] for k, v in parsed.labels.items()} == {1: 1, 2: 0, 3: 1}
    assert {a["lang"] for a in parsed.accounts} == {"no"}


def test_numeric_source_names_match_source_columns(tmp_path: Path) -> None:
    """`source: 2` is the column named "2" (YAML reads it as a number; source_columns as text)."""
    m = tmp_path / "m.yml"
    m.write_text("header: false\nsource_columns: [1, 2, 3]\nkey: {source: 1}\n"
                 "columns: {created_at: {source: 2}, screen_name: 3, exported_at: {value: '2016-01-01'}}\n")
    f = tmp_path / "x.csv"
    f.write_text("7,2015-01-01,alice\n")
    parsed = parse_accounts([f], load_mapping(m))
    assert [(a["id"], a["created_at"].year, a["screen_name"]) for a in parsed.accounts] == [
        (7, 2015, "alice")]


def test_overlapping_label_file_patterns_with_different_labels_are_refused(tmp_path: Path) -> None:
    (tmp_path / "bots.csv").write_text("id,created_at\n1,2015-01-01\n")
    (tmp_path / "users.csv").write_text("id,created_at\n2,2015-01-01\n")
    m = tmp_path / "m.yml"
    m.write_text("key: {source: id}\nfiles: ['*.csv']\ncolumns: {created_at: created_at}\n"
                 "label: {files: {'*.csv': human, bots.csv: bot}}\n")
    with pytest.raises(BotsiftError, match=r"bots.csv: the mapping's label.files patterns \*.csv, "
                                           "bots.csv all match this file with different labels"):
        parse_accounts([tmp_path], load_mapping(m))


def test_dates_beyond_pythons_range_and_placeholders_are_quarantined(tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text("id,created_at,exported_at\n"
                 "1,0001-01-01T00:00:00+01:00,2016-01-01\n"
                 "2,2015-01-01,9999-12-31T23:00:00-05:00\n"
                 "3,Fri Dec 31 23:00:00 -0500 9999,2016-01-01\n"
                 "4,2015-01-01,0001-01-01\n"
                 "5,2015-01-01,2016-01-01\n")
    parsed = parse_accounts([f], load_mapping(), now=datetime(2020, 1, 1))
    assert [a["id"] for a in parsed.accounts] == [5]
    reasons = {q["row_number"]: q["reason"] for q in parsed.quarantine}
    assert reasons[1].startswith("unparseable created_at: out of range")
    assert reasons[2].startswith("unparseable exported_at: out of range")
    assert reasons[3].startswith("unparseable created_at: out of range")
    assert reasons[4].startswith("created_after_export")          # a 0001-01-01 placeholder


def test_bad_rows_keep_their_data_and_odd_keys_and_lengths_are_quarantined(tmp_path: Path) -> None:
    f = tmp_path / "x.tsv"
    f.write_text("\n\nsn\tcreated_at\tbio_len\n"                  # blank lines before the header
                 'alice\t2015-01-01\t5\n'
                 'bob\t2015-01-01\t5\textra\n'
                 '""""\t2015-01-01\t5\n'
                 'carol\t2015-01-01\t-3\n'
                 'dave\t2015-01-01\t1000000000000\n')
    m = tmp_path / "m.yml"
    m.write_text("key: {source: sn, strategy: hash}\n"
                 "columns: {created_at: created_at, screen_name: sn,"
                 " description: {source: bio_len, transform: length_placeholder}}\n")
    parsed = parse_accounts([f], load_mapping(m), now=datetime(2020, 1, 1))
    assert [a["screen_name"] for a in parsed.accounts] == ["alice"]
    assert parsed.rows_read == 5
    q = {row["row_number"]: row for row in parsed.quarantine}
    assert q[2]["reason"].startswith("wrong_field_count: 4 fields, expected 3")
    assert json.loads(q[2]["raw_row"])["_extra_fields"] == ["extra"]
    assert q[3]["reason"].startswith("bad_key: key sn=") and "is empty" in q[3]["reason"]
    assert q[4]["reason"] == "unparseable description: length -3 is outside 0..100,000"
    assert q[5]["reason"] == "unparseable description: length 1000000000000 is outside 0..100,000"


def test_json_repeated_keys_nesting_and_empty_files_are_named(tmp_path: Path) -> None:
    lines = tmp_path / "a.jsonl"
    lines.write_text('{"id": 1, "created_at": "2015-01-01"}\n{"id": 2, "id": 3, "created_at": "2015-01-01"}\n')
    with pytest.raises(BotsiftError, match="a.jsonl: line 2 names 'id' twice"):
        parse_accounts([lines], load_mapping())
    array = tmp_path / "b.json"
    array.write_text('[{"id": 1, "label": "bot", "label": "human"}]')
    with pytest.raises(BotsiftError, match="b.json: an object names 'label' twice"):
        parse_accounts([array], load_mapping())
    deep = tmp_path / "c.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(BotsiftError, match="c.json: JSON nested too deeply"):
        parse_accounts([deep], load_mapping())
    empty = tmp_path / "d.json"
    empty.write_text("")
    with pytest.raises(BotsiftError, match="d.json: empty file"):
        parse_accounts([empty], load_mapping())
    nested = tmp_path / "e.jsonl"
    nested.write_text('{"id": 1, "created_at": "2015-01-01", "screen_name": ["x", "y"]}\n')
    parsed = parse_accounts([nested], load_mapping())
    assert parsed.accounts == []
    assert parsed.quarantine[0]["reason"].startswith('unparseable screen_name: a nested value, not text: ["x", "y"]')


def test_text_with_nul_characters_is_refused_with_the_likely_cause(tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_bytes("id,created_at\n1,2015-01-01\n".encode("utf-16-le"))   # no byte order mark
    with pytest.raises(BotsiftError, match="holds NUL characters.*UTF-16 without a byte order mark"):
        parse_accounts([f], load_mapping())


def test_a_ragged_labels_file_row_is_quarantined(tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text("id,created_at\n6,2015-01-01\n7,2015-01-01\n")
    labels = tmp_path / "labels.csv"
    labels.write_text("id,label\n6,1,extra\n7,0\n")
    parsed = parse_accounts([f], load_mapping(), labels_file=labels)
    assert {k: v[0] for k, v in parsed.labels.items()} == {7: 0}
    assert [q["reason"] for q in parsed.quarantine] == ["bad_label_row: 3 fields, expected 2"]
