"""What the published caverlee-2011 tree rests on: the date each class was collected.

Reads the export through the loader (``--preset caverlee-2011``, as ``botsift evaluate``
does), then, in the same 5 stratified folds (seed 0):

* a depth-1 tree on ``created_at`` alone (accuracy / precision / recall, to set beside the
  published depth-1 tree of Hays et al. 2023) and where it cuts: the humans were all
  collected by 29 Nov 2009, so an account created after it can only be a polluter;
* gradient boosting on the mart's metadata features (python mirror, each account aged at its
  own collection date) with and without the hour and weekday of creation.

Usage::

    python benchmarks/caverlee_shortcut.py ../shared/datasets/caverlee-2011

Prints the figures the README quotes under "Evaluation on public datasets".
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.tree import DecisionTreeClassifier

from botsift.accounts_loader import load_mapping, parse_accounts
from botsift.evaluate_datasets import informative_features, metadata_features


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("path", type=Path, help="the caverlee-2011 folder (or its two files)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    parsed = parse_accounts([args.path], load_mapping(preset="caverlee-2011"))
    if not parsed.labels:
        sys.exit(f"{args.path}: no labelled accounts read")
    accounts = pd.DataFrame(parsed.accounts).set_index("id", drop=False)
    labels = pd.Series({k: v[0] for k, v in parsed.labels.items()}).astype(int)
    accounts = accounts.loc[labels.index]
    y = labels.to_numpy()
    created = pd.to_datetime(accounts["created_at"])
    collected = pd.to_datetime(accounts["exported_at"])
    folds = StratifiedKFold(5, shuffle=True, random_state=args.seed)
    print(f"accounts {len(y):,} (polluters {int(y.sum()):,}, humans {int((1 - y).sum()):,})")

    days = ((created - created.min()).dt.total_seconds() / 86400).to_numpy().reshape(-1, 1)
    cv = cross_validate(DecisionTreeClassifier(max_depth=1), days, y, cv=folds,
                        scoring=("accuracy", "precision", "recall"))
    print("depth-1 tree on created_at: " + ", ".join(
        f"{k.removeprefix('test_')} {np.mean(v):.3f}" for k, v in cv.items() if k.startswith("test_")))
    cut = created.min() + pd.Timedelta(days=float(
        DecisionTreeClassifier(max_depth=1).fit(days, y).tree_.threshold[0]))
    after = created > cut
    print(f"  its cut: created after {cut:%Y-%m-%d %H:%M}; last human collected "
          f"{collected[y == 0].max():%Y-%m-%d %H:%M}; created after the cut: "
          f"{int(after[y == 1].sum()):,} polluters, {int(after[y == 0].sum()):,} humans")

    feats = metadata_features(accounts.reset_index(drop=True)).loc[labels.index]
    feats = feats[informative_features(feats, list(feats.columns))]
    with_time = feats.assign(created_hour=created.dt.hour.to_numpy(),
                             created_weekday=created.dt.day_of_week.to_numpy())
    for name, frame in (("mart features", feats), ("+ hour and weekday of creation", with_time)):
        acc = cross_validate(HistGradientBoostingClassifier(random_state=args.seed), frame, y,
                             cv=folds, scoring="accuracy")["test_score"]
        print(f"gradient boosting, {name}: accuracy {acc.mean():.4f} ±{acc.std():.4f}")


if __name__ == "__main__":
    main()
