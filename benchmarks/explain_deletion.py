"""Do the review queue's reasons matter to the score? A deletion check.

For accounts a registered version flags (score >= its review threshold), set the top reason
to its training median (the imputer's fill value) and score again with the version's
scikit-learn ensemble (``model.skops``): a reason that drove the score lowers it. Compared
with a random feature, and, where the card still holds them (versions trained before the
seventeenth session), with the logistic-regression terms scoring used to show.

Usage::

    python benchmarks/explain_deletion.py --warehouse /tmp/bench/wh.duckdb \\
        --version 20261124T111805-643a99c [--sample 300000] [--rows 5000]

Reads the latest snapshot of ``marts.fct_account_features``; uses the version's global
segment on every sampled row. Prints the figures and saves JSON under
``benchmarks/results/``.
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import duckdb
import numpy as np
import skops.io as sio

from botsift.explain import KIND, contributions, ensemble_payload


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse", type=Path, required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--sample", type=int, default=300_000, help="accounts sampled from the latest snapshot")
    ap.add_argument("--rows", type=int, default=5_000, help="flagged accounts checked")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/explain_deletion.json"))
    args = ap.parse_args()

    con = duckdb.connect(str(args.warehouse), read_only=True)
    found = con.execute("select onnx_path, card from registry.model_versions "
                        "where model_version = ? and segment = 'global'", [args.version]).fetchall()
    if not found:
        raise SystemExit(f"no global model of version {args.version} in {args.warehouse}")
    card = json.loads(found[0][1])
    skops_path = Path(found[0][0]).parent / card["sklearn_file"]
    ens = sio.load(skops_path, trusted=sio.get_untrusted_types(file=skops_path))
    payload = ensemble_payload(ens.names, ens.estimators, ens.weights, ens.odds_factor)
    if payload is None:
        raise SystemExit(f"version {args.version} has a member with no explanation")
    feats = card["features"]
    cols = ", ".join(f'"{c}"' for c in feats)
    # sampled after the date filter (a SAMPLE clause beside WHERE samples the whole table)
    data = con.execute(f"""select * from (select {cols} from marts.fct_account_features
        where as_of_date = (select max(as_of_date) from marts.fct_account_features)) as latest
        using sample {args.sample} rows (reservoir, 1)""").fetchnumpy()
    con.close()
    x = np.column_stack([np.ma.filled(np.ma.asarray(data[c], dtype=np.float32), np.nan) for c in feats])
    p = ens.predict_proba(x)
    review = card["thresholds"]["review"]
    flagged = np.flatnonzero(p >= review)[:args.rows]
    xf, pf = x[flagged], p[flagged]
    c, explained, _ = contributions(xf, payload)
    fill = next((m["impute"] for m in payload["members"] if m.get("impute") is not None), None)
    median = np.asarray(fill if fill is not None else np.nanmedian(x, axis=0), dtype=np.float32)
    rng = np.random.default_rng(0)
    reasons = {"ensemble reason (top_features now)": c.argmax(axis=1),
               "random feature": rng.integers(0, len(feats), len(xf))}
    old = card.get("explain") or {}
    if old.get("kind") != KIND and "coef" in old:
        raw = xf.astype(np.float64)
        xi = np.where(np.isnan(raw), old["impute"], raw)
        scale = np.asarray(old["scale"])
        terms = np.asarray(old["coef"]) * (xi - np.asarray(old["mean"])) / np.where(scale == 0, 1, scale)
        reasons["logistic-regression reason (top_features before)"] = terms.argmax(axis=1)
    result: dict[str, object] = {
        "version": args.version, "members": list(ens.names), "weights": [float(w) for w in ens.weights],
        "flagged_in_sample": int((p >= review).sum()), "checked": len(xf),
        "explained_vs_sklearn_max_abs_diff": float(np.abs(explained - pf).max()), "reasons": {}}
    print(f"version {args.version}: {ens.names} {np.round(ens.weights, 3).tolist()}; "
          f"{len(xf)} flagged accounts checked (of {result['flagged_in_sample']} in the sample)")
    for name, col in reasons.items():
        x2 = xf.copy()
        x2[np.arange(len(xf)), col] = median[col]
        drop = pf - ens.predict_proba(x2)
        row = {"score_drop_median": float(np.median(drop)), "score_drop_mean": float(drop.mean()),
               "share_below_review_after": float((pf - drop < review).mean()),
               "top_features": Counter(feats[i] for i in col).most_common(3)}
        result["reasons"][name] = row  # type: ignore[index]
        print(f"  {name:50s} score drop median {row['score_drop_median']:.3f}, mean "
              f"{row['score_drop_mean']:.3f}; below review after {row['share_below_review_after']:.3f}")
    if "logistic-regression reason (top_features before)" in reasons:
        agree = float(np.mean(reasons["ensemble reason (top_features now)"]
                              == reasons["logistic-regression reason (top_features before)"]))
        result["top_reason_agreement"] = agree
        print(f"  the two reasons agree for {agree:.3f} of the accounts")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
