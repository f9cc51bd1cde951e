"""Time ``dbt build`` of the staging layer on synthetic raw tables of a chosen size.

Usage: ``python benchmarks/staging_build.py --accounts 1000000 --events 10000000``.
Fills a fresh DuckDB file with generated raw rows (about 0.1% of them bad), runs ``dbt build``
(models and all tests) and prints and saves the wall times to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import duckdb

from botsift.project import run_dbt
from botsift.schema import RAW_SCHEMA, RAW_TABLES, raw_ddl

REPO = Path(__file__).resolve().parents[1]

FILL = {
    "accounts": """
        select i as id,
            timestamp '2015-01-01' + to_seconds(i * 271 % 250000000) as created_at,
            ['na','eu','latam','apac','africa'][1 + i % 5] as region,
            '10.' || (i % 256) || '.' || (i // 256 % 256) || '.' || (i // 65536 % 256) as signup_ip,
            'dev-' || (i * 7 % 500000) as signup_device,
            ['android','ios','web','api'][1 + i % 4] as signup_client,
            'user' || i as screen_name, 'User ' || i as name, 'bio of ' || i as description,
            i % 3 = 0 as default_profile_image, i % 50 = 0 as verified, 'en' as lang,
            null as url,
            case when i % 1000 = 7 then -1 else i % 977 end as followers_count,
            i % 311 as friends_count, i % 1009 as statuses_count, i % 4001 as favourites_count,
            i % 7 as listed_count, timestamp '2024-06-01' as exported_at,
            timestamp '2024-06-01' as _loaded_at
        from range(1, {accounts} + 1) as t(i)
    """,
    "posts": """
        select i as id, 1 + i * 13 % ({accounts} + 1000) as account_id,
            timestamp '2020-01-01' + to_seconds(i * 31 % 120000000) as created_at,
            'post ' || i as text, case when i % 4 = 0 then i - 1 end as in_reply_to_post_id,
            case when i % 5 = 0 then [i % {accounts} + 1] else [] end as mentioned_account_ids,
            timestamp '2024-06-01' as _loaded_at
        from range(1, {events} // 2 + 1) as t(i)
    """,
    "logins": """
        select i as id, 1 + i * 17 % {accounts} as account_id,
            timestamp '2020-01-01' + to_seconds(i * 37 % 120000000) as attempted_at,
            '172.16.' || (i % 256) || '.' || (i // 256 % 256) as ip, 'dev-' || (i % 700000) as device_id,
            ['success','failed_password','failed_captcha','failed_2fa'][1 + (i % 10 = 0)::int * (1 + i % 3)] as result,
            timestamp '2024-06-01' as _loaded_at
        from range(1, {events} // 2 + 1) as t(i)
    """,
    "follows": """
        select i as id, 1 + i * 19 % {accounts} as follower_id, 1 + i * 23 % {accounts} as followee_id,
            timestamp '2020-01-01' + to_seconds(i * 41 % 120000000) as created_at,
            timestamp '2024-06-01' as _loaded_at
        from range(1, {events} // 2 + 1) as t(i)
    """,
    "interactions": """
        select i as id, 1 + i * 29 % {accounts} as account_id, 1 + i * 43 % ({events} // 2) as post_id,
            ['like','repost','reply'][1 + i % 3] as action,
            timestamp '2020-01-01' + to_seconds(i * 47 % 120000000) as created_at,
            timestamp '2024-06-01' as _loaded_at
        from range(1, {events} + 1) as t(i)
    """,
    "ops_reviews": """
        select i as id, 1 + i * 53 % {accounts} as account_id,
            timestamp '2024-01-01' + to_seconds(i * 59 % 10000000) as reviewed_at,
            ['suspended_spam','suspended_fake_followers','cleared','warned'][1 + i % 4] as decision,
            'note' as note, timestamp '2024-06-01' as _loaded_at
        from range(1, {accounts} // 20 + 1) as t(i)
    """,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        warehouse = tmp / "bench.duckdb"
        t0 = time.perf_counter()
        with duckdb.connect(str(warehouse)) as con:
            con.execute(f"create schema {RAW_SCHEMA}")
            for table in RAW_TABLES:
                con.execute(raw_ddl(table))
                cols = ", ".join(f.name for f in RAW_TABLES[table])
                sql = FILL[table].format(accounts=args.accounts, events=args.events)
                con.execute(f"insert into {RAW_SCHEMA}.{table} ({cols}) select {cols} from ({sql})")
            rows = {
                t: con.execute(f"select count(*) from {RAW_SCHEMA}.{t}").fetchone()[0]
                for t in RAW_TABLES
            }
        fill_s = time.perf_counter() - t0
        import os

        os.environ["BOTSIFT_WAREHOUSE"] = str(warehouse)
        t0 = time.perf_counter()
        run_dbt(
            ["build", "--target-path", str(tmp / "target"), "--log-path", str(tmp / "logs")],
            root=REPO,
            quiet=True,
        )
        build_s = time.perf_counter() - t0
        timings = json.loads((tmp / "target" / "run_results.json").read_text())["results"]
        slowest = sorted(((r["execution_time"], r["unique_id"]) for r in timings), reverse=True)[:8]
        with duckdb.connect(str(warehouse), read_only=True) as con:
            quarantined = dict(
                con.execute("""
                select source_table, count(*) from staging.stg_raw__quarantined_rows group by 1
            """).fetchall()
            )
    result = {
        "raw_rows": rows,
        "quarantined_rows": quarantined,
        "fill_s": round(fill_s, 1),
        "dbt_build_s": round(build_s, 1),
        "slowest_nodes_s": [[round(s, 2), n] for s, n in slowest],
    }
    print(json.dumps(result, indent=2))
    out = REPO / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"staging_build_{args.accounts}_{args.events}.json").write_text(
        json.dumps(result, indent=2)
    )


if __name__ == "__main__":
    main()
