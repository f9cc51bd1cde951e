"""Benchmark the platform simulator: wall time, peak memory, rows per table, rows per second.

Usage::

    python benchmarks/bench_simulate.py --accounts 1000000 --days 30

Runs in this process (no subprocess) and saves the figures as JSON (default
``benchmarks/results/simulate.json``).
"""
from __future__ import annotations

import argparse
import json
import logging
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

from botsift.simulate import SimulationConfig, simulate_platform

log = logging.getLogger("bench_simulate")


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Run the benchmark and return its figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--warehouse", type=Path, default=None,
                    help="DuckDB file to write (default: a temporary file, removed after)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/simulate.json"))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s",
                        stream=sys.stderr)

    with tempfile.TemporaryDirectory() as tmp:
        target = args.warehouse or Path(tmp) / "bench.duckdb"
        cfg = SimulationConfig(n_accounts=args.accounts, days=args.days, seed=args.seed)
        t0 = time.perf_counter()
        counts = simulate_platform(cfg, target)
        wall = time.perf_counter() - t0
        size = target.stat().st_size
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    total = sum(counts.values())
    result = {
        "accounts": args.accounts, "days": args.days, "seed": args.seed,
        "wall_s": round(wall, 2), "peak_rss_gib": round(peak_kib / 2**20, 3),
        "rows": counts, "rows_total": total, "rows_per_s": round(total / wall),
        "warehouse_mib": round(size / 2**20, 1),
        "python": platform.python_version(), "machine": platform.machine(),
        "cpus": __import__("os").cpu_count(),
    }
    print(json.dumps(result, indent=2))  # noqa: T201 - a benchmark prints its figures
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
