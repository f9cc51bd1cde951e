"""Benchmark gradient boosting's early stopping: row-wise against grouped hold-out.

Fits the training run's HistGradientBoosting (``build_estimator``, balanced weights) on the
train split of ``marts.ml_training_examples`` twice per seed and parameter set: once with
scikit-learn's row-wise early-stopping hold-out (no groups), once with whole groups held out
(``group_id``, as ``botsift train`` fits). Reports boosting iterations, the hold-out's final
loss against the validation split's (how optimistic the hold-out is), the validation and test
PR AUC (population-weighted) and fit seconds. Prints the figures and saves them as JSON under
``benchmarks/results/``.

    python benchmarks/bench_early_stopping.py --warehouse /tmp/bench/wh.duckdb --project-dir .
    python benchmarks/bench_early_stopping.py --rows 150000   # the synthetic table
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.metrics import log_loss

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "python"))  # the synthetic table generator

from botsift.evaluation import weighted_average_precision  # noqa: E402
from botsift.examples import load_training_examples  # noqa: E402
from botsift.manifest import load_manifest  # noqa: E402
from botsift.models import build_estimator, fit_estimator  # noqa: E402
from botsift.prior import balanced_sample_weight  # noqa: E402
from training_fixtures import build_project, make_training_examples  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse", type=Path, help="use this warehouse's table")
    ap.add_argument("--project-dir", type=Path, help="dbt project (manifest) for --warehouse")
    ap.add_argument("--rows", type=int, default=150_000, help="synthetic table rows")
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (hold-out draws)")
    ap.add_argument("--leaves", type=int, nargs="+", default=[15, 31],
                    help="max_leaf_nodes values (the default search grid's)")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args()

    if args.warehouse:
        wh, manifest = args.warehouse, load_manifest(args.project_dir or Path.cwd())
        source = str(args.warehouse)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="bench_es_"))
        wh, manifest = build_project(tmp / "proj", make_training_examples(
            args.rows, positives_share=0.03, negative_rate=0.124, n_features=32, seed=0))
        source = f"synthetic {args.rows} rows"
    data = load_training_examples(wh, manifest)
    train, val, test = (data.subset(data.mask(s)) for s in ("train", "validation", "test"))
    w_fit = balanced_sample_weight(train.y, train.sampling_rate)
    w_val_fit = balanced_sample_weight(val.y, val.sampling_rate)  # the loss early stopping sees

    runs = []
    for leaves in args.leaves:
        for seed in range(args.seeds):
            for mode, groups in (("rowwise", None), ("grouped", train.group)):
                est = build_estimator("hist_gradient_boosting",
                                      {"learning_rate": 0.1, "max_leaf_nodes": leaves}, seed)
                t0 = time.perf_counter()
                fit_estimator(est, train.X, train.y, w_fit, groups=groups)
                fit_s = time.perf_counter() - t0
                p_val = est.predict_proba(val.X)[:, 1]
                run = {
                    "max_leaf_nodes": leaves, "seed": seed, "mode": mode,
                    "n_iter": int(est.n_iter_), "fit_s": round(fit_s, 2),
                    "holdout_loss": float(-est.validation_score_[-1]),
                    "validation_loss": float(log_loss(val.y, p_val, sample_weight=w_val_fit)),
                    "validation_pr_auc": weighted_average_precision(val.y, p_val, val.weight),
                    "test_pr_auc": weighted_average_precision(
                        test.y, est.predict_proba(test.X)[:, 1], test.weight),
                }
                runs.append(run)
                print(json.dumps(run), flush=True)

    summary = {}
    for leaves in args.leaves:
        for mode in ("rowwise", "grouped"):
            rs = [r for r in runs if r["max_leaf_nodes"] == leaves and r["mode"] == mode]
            summary[f"{mode}_leaves{leaves}"] = {
                k: round(float(np.mean([r[k] for r in rs])), 4)
                for k in ("n_iter", "fit_s", "holdout_loss", "validation_loss",
                          "validation_pr_auc", "test_pr_auc")}
    out = {"benchmark": "early_stopping", "at": datetime.now(UTC).isoformat(timespec="seconds"),
           "source": source, "train_rows": len(train.y), "train_groups": len(set(train.group)),
           "seeds": args.seeds, "summary_means": summary, "runs": runs}
    print(json.dumps(summary, indent=2))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"early_stopping_{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"saved {path}")


if __name__ == "__main__":
    main()
