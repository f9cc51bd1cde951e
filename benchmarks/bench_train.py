"""Benchmark ``botsift train``: wall time (search included) and peak RSS.

Builds a synthetic ``marts.ml_training_examples`` of ``--rows`` rows (the tests' generator)
unless ``--warehouse`` points at a real one, then runs :func:`botsift.train.train_models` once.
Prints the figures and saves them as JSON under ``benchmarks/results/``.

    python benchmarks/bench_train.py --rows 150000 --positives-share 0.03 --negative-rate 0.124
"""
from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "python"))  # the synthetic table generator

from botsift.manifest import load_manifest  # noqa: E402
from botsift.train import train_models  # noqa: E402
from training_fixtures import build_project, make_training_examples  # noqa: E402


class PeakRss:
    """Sample this process's RSS every 50 ms in a thread; keep the peak."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=150_000, help="rows of the synthetic table")
    ap.add_argument("--positives-share", type=float, default=0.03,
                    help="bot share in the population (before down-sampling)")
    ap.add_argument("--negative-rate", type=float, default=0.124,
                    help="share of humans kept by down-sampling (0.124: 1M accounts -> ~150k rows)")
    ap.add_argument("--features", type=int, default=32)
    ap.add_argument("--warehouse", type=Path, help="use this warehouse's table instead")
    ap.add_argument("--project-dir", type=Path, help="dbt project (manifest) for --warehouse")
    ap.add_argument("--no-per-region", action="store_true")
    ap.add_argument("--promote-into", type=Path, default=None,
                    help="with --warehouse: keep the version in this artifacts folder, register "
                         "it and make it active (so benchmarks/bench_scoring.py can score with it)")
    ap.add_argument("--expectations-dir", type=Path, default=None,
                    help="with --promote-into: also write the version's drift reference and Great "
                         "Expectations suite here, as `botsift train` does (timed with training), "
                         "so the monitoring marts have a reference (benchmarks/bench_refresh.py)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    tmp = Path(tempfile.mkdtemp(prefix="bench_train_"))
    t0 = time.perf_counter()
    if args.warehouse:
        wh, manifest = args.warehouse, load_manifest(args.project_dir or Path.cwd())
        source = str(args.warehouse)
    else:
        table = make_training_examples(args.rows, positives_share=args.positives_share,
                                       negative_rate=args.negative_rate,
                                       n_features=args.features, seed=args.seed)
        wh, manifest = build_project(tmp / "proj", table)
        source = "synthetic"
    build_s = time.perf_counter() - t0

    with PeakRss() as rss:
        t1 = time.perf_counter()
        keep = args.warehouse is not None and args.promote_into is not None
        res = train_models(wh, manifest, args.promote_into if keep else tmp / "artifacts",
                           per_region=not args.no_per_region, seed=args.seed, progress=False,
                           register=keep or not args.warehouse,
                           expectations_dir=args.expectations_dir if keep else None)
        train_s = time.perf_counter() - t1
    if keep:
        from botsift.registry import promote

        promote(wh, res.model_version, to="active")
    card = res.card
    test = card["metrics"]["ensemble"]["test"]
    out = {
        "benchmark": "train",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": source,
        "rows": sum(v["rows"] for v in card["rows"].values()),
        "rows_per_split": card["rows"],
        "features": len(card["features"]),
        "positives_share": args.positives_share,
        "negative_rate": args.negative_rate,
        "cpu_count": psutil.cpu_count(),
        "machine": platform.machine(),
        "build_table_s": round(build_s, 2),
        "train_s": round(train_s, 2),
        "includes_drift_reference": bool(keep and args.expectations_dir),
        "peak_rss_mb": round(rss.peak / 2**20, 1),
        "segments": list(res.cards),
        "ensemble": card["ensemble"]["weights"],
        "members": card["ensemble"]["members"],
        "base_params": {k: v["params"] for k, v in card["base_models"].items()},
        "thresholds": {k: card["thresholds"][k] for k in ("action", "review",
                                                          "precision_target_met")},
        "test": {k: test.get(k) for k in ("pr_auc", "pr_auc_ci95_low", "pr_auc_ci95_high",
                                          "roc_auc", "precision_at_action", "recall_at_action",
                                          "precision_at_review", "recall_at_review", "brier")},
        "validation_pr_auc": {m: card["metrics"][m]["validation"].get("pr_auc")
                              for m in card["metrics"]},
        "test_pr_auc": {m: card["metrics"][m]["test"].get("pr_auc") for m in card["metrics"]},
        # boosting iterations where early stopping stopped: the refit, and each search fit
        "hgb_n_iter": {seg: c["base_models"].get("hist_gradient_boosting", {}).get("n_iter")
                       for seg, c in res.cards.items()},
        "hgb_search_n_iter": {
            json.dumps(r["params"], sort_keys=True): r.get("fold_n_iter")
            for r in card["base_models"].get("hist_gradient_boosting", {}).get("search", [])},
        "parity_max_abs_diff": card["parity"]["max_abs_diff"],
        "onnx_bytes": (res.folder / "model.onnx").stat().st_size,
    }
    text = json.dumps(out, indent=2)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"train_{out['rows']}rows_{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(text + "\n")
    print(f"saved {path}")


if __name__ == "__main__":
    main()
