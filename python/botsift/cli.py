"""The ``botsift`` command line: each command parses its options and calls one library function."""
from __future__ import annotations

import logging
import os
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from botsift import SEED_MAX
from botsift.errors import BotsiftError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Find bot accounts in the warehouse: simulate, build, train, score.")
console = Console(stderr=True)


def _stdout() -> Console:
    """A console for tables on stdout. Piped or in a scheduler's log, rich would fit them to 80
    columns and cut values short (thresholds printed as ``0.20…``); there it is 200 wide
    unless ``COLUMNS`` says otherwise."""
    import sys

    return Console() if sys.stdout.isatty() or os.environ.get("COLUMNS") else Console(width=200)



def _run(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Call a library function; print a BotsiftError on one line and exit 1, no traceback."""
    try:
        return fn(*args, **kwargs)
    except BotsiftError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def _iso_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise BotsiftError(f"{option} {text!r} is not a date YYYY-MM-DD: {exc}") from None


WarehouseOption = Annotated[Path | None, typer.Option(
    help="Warehouse file (default: BOTSIFT_WAREHOUSE or warehouse/botsift.duckdb).")]


def _use_warehouse(warehouse: Path | None) -> None:
    """``--warehouse`` of a command: BOTSIFT_WAREHOUSE for this run (the dbt builds some
    commands start read it too)."""
    if warehouse is not None:
        os.environ["BOTSIFT_WAREHOUSE"] = str(warehouse.resolve())


@app.callback()
def _main(verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Debug logging, Great Expectations' INFO messages included.")] = False,
          ) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    if not verbose:
        # about 220 INFO lines per context (decorator registration, datasource loading)
        # would bury the summary of train, retrain and demo
        logging.getLogger("great_expectations").setLevel(logging.WARNING)


@app.command()
def simulate(
    accounts: Annotated[int, typer.Option(help="Number of accounts.")] = 20_000,
    days: Annotated[int, typer.Option(help="Days of activity.")] = 30,
    start_date: Annotated[str, typer.Option(help="First simulated day (YYYY-MM-DD).")] = "2026-10-01",
    bot_share: Annotated[float, typer.Option(help="Share of accounts that are bots.")] = 0.03,
    seed: Annotated[int, typer.Option(min=0, max=SEED_MAX, help="Random seed: same seed, same data.")] = 42,
    drift_day: Annotated[int, typer.Option(help="Day index a new bot family appears; -1 for none.")] = 21,
    biased_region: Annotated[str | None, typer.Option(help="Region whose humans look more bot-like (fairness test).")] = None,
    extend_days: Annotated[int, typer.Option(help="Append this many further days to an existing simulation.")] = 0,
    warehouse: WarehouseOption = None,
) -> None:
    """Simulate a social platform and write its raw tables into the warehouse."""
    from botsift.project import warehouse_path
    from botsift.simulate import SimulationConfig, extend_simulation, simulate_platform

    target = warehouse or _run(warehouse_path)
    if extend_days:
        counts = _run(extend_simulation, target, extend_days)
    else:
        cfg = SimulationConfig(
            n_accounts=accounts, days=days, start_date=_run(_iso_date, start_date, "--start-date"),
            bot_share=bot_share, seed=seed, drift_day=None if drift_day < 0 else drift_day,
            biased_region=biased_region,
        )
        counts = _run(simulate_platform, cfg, target)
    for table, n in counts.items():
        console.print(f"raw.{table}: {n:,} rows")


@app.command()
def demo(
    accounts: Annotated[int, typer.Option(help="Number of simulated accounts.")] = 20_000,
    days: Annotated[int, typer.Option(help="Days of activity.")] = 30,
    seed: Annotated[int, typer.Option(min=0, max=SEED_MAX, help="Random seed.")] = 42,
    refresh_days: Annotated[int, typer.Option(min=0, help="Days of activity a scheduled refresh adds after training (then dbt build); 0: no refresh.")] = 2,
    warehouse: WarehouseOption = None,
) -> None:
    """Simulate a small platform and run the whole pipeline end to end."""
    _use_warehouse(warehouse)
    from rich.table import Table

    from botsift.demo import BI_QUERY, run_demo

    s = _run(run_demo, n_accounts=accounts, days=days, seed=seed, refresh_days=refresh_days)
    out = _stdout()
    table = Table(title="What was built")
    for col in ("schema", "table", "rows"):
        table.add_column(col, justify="right" if col == "rows" else "left")
    for schema, name, n in s.tables:
        if schema in ("raw", "marts", "monitoring", "registry"):
            table.add_row(schema, name, f"{n:,}")
    out.print(table)
    out.print(f"warehouse: [bold]{s.warehouse}[/] (built in {s.seconds:.0f} s)")
    out.print(f"active model: {s.model_version}")
    out.print("latest snapshot: " + ", ".join(f"{k} {v:,}" for k, v in sorted(s.flagged.items())))
    th = s.thresholds
    if th:
        out.print(f"thresholds (global model): action {th['action']:.3f}, review {th['review']:.3f}"
                  + (" (no review band: on validation the action threshold already reached the "
                     "review recall target; see the model card's notes)"
                     if th["review"] >= th["action"] else ""), highlight=False)
    if s.unmet_target:
        out.print(f"[yellow]warning:[/] the action threshold missed the precision target on "
                  f"validation ({', '.join(s.unmet_target)}): too few labels at this size; the "
                  "demo made it active anyway, `botsift models promote` would refuse",
                  highlight=False)
    for decision, p in s.labelled_precision.items():
        truth = s.true_precision.get(decision)
        extra = f" (against the simulator's ground truth: {truth:.3f})" if truth is not None else ""
        out.print(f"precision at the {decision} threshold on labelled accounts: {p:.3f}{extra}")
    out.print(f"score check: max abs diff {s.score_check['max_abs_diff']:.1e}, "
              f"decision mismatches {s.score_check['decision_mismatches']}"
              + (f", decisions their own score does not give {bad}"
                 if (bad := s.score_check.get("inconsistent_decisions")) else ""))
    if s.refresh_days:
        out.print(f"refresh (+{s.refresh_days} days, `dbt build`), what monitoring says per "
                  "scored date:")
        for day in s.scored_dates:
            feats = s.drifted_features.get(day, [])
            shown = ", ".join(feats[:4]) + (f" and {len(feats) - 4} more" if len(feats) > 4 else "")
            out.print(f"  {day}: features drifted (mon_feature_drift) {len(feats)}"
                      + (f" ({shown})" if feats else "")
                      + f"; failed GX expectations (mon_feature_validation) "
                      f"{s.failed_expectations.get(day, 0)}; score drift (mon_score_drift) "
                      + ("yes" if s.score_drift.get(day) else "no"), highlight=False)
    out.print("a BI tool would run:\n" + BI_QUERY)


@app.command("load-accounts")
def load_accounts_command(
    paths: Annotated[list[Path], typer.Argument(help="Export files, or folders holding them.")],
    format: Annotated[str | None, typer.Option("--format", help="The export's format: csv, parquet or json (default: from the suffix; a --labels file's always is).")] = None,
    mapping: Annotated[Path | None, typer.Option(help="Column mapping YAML (see python/botsift/presets).")] = None,
    preset: Annotated[str | None, typer.Option(help="A shipped mapping: cresci-2015, caverlee-2011, kaggle-2017.")] = None,
    labels: Annotated[Path | None, typer.Option("--labels", help="Separate labels file: the key column and a label column.")] = None,
    replace: Annotated[bool, typer.Option(help="Empty every raw table first.")] = False,
    warehouse: WarehouseOption = None,
) -> None:
    """Load an account export into raw.accounts (and labels into raw.ops_reviews)."""
    from botsift.accounts_loader import load_accounts, load_mapping
    from botsift.project import warehouse_path

    if mapping is not None and preset is not None:
        _run(_fail, "give --mapping or --preset, not both")
    mp = _run(load_mapping, mapping, preset=preset)
    summary = _run(load_accounts, paths, warehouse or _run(warehouse_path), mapping=mp, fmt=format,
                   labels_file=labels, replace=replace)
    for line in summary.lines():
        console.print(line, highlight=False)
    if summary.rows_read and not summary.rows_loaded:
        # a scheduled load that loaded nothing must not look like a success
        _run(_fail, f"no account loaded: of {summary.rows_read:,} rows read, "
                    f"{summary.rows_quarantined:,} were quarantined (reasons above and in "
                    "raw.load_quarantine)")


@app.command("export-raw")
def export_raw_command(
    out_dir: Annotated[Path, typer.Argument(help="Folder for <table>.parquet, one per raw table.")],
    warehouse: WarehouseOption = None,
) -> None:
    """Write the raw tables of the DuckDB warehouse to Parquet (for `botsift spark-load`)."""
    from botsift.project import warehouse_path
    from botsift.spark import export_raw

    counts = _run(export_raw, warehouse or _run(warehouse_path), out_dir)
    for table, n in counts.items():
        console.print(f"raw.{table}: {n:,} rows -> {out_dir / (table + '.parquet')}", highlight=False)


@app.command("spark-load")
def spark_load_command(
    parquet_dir: Annotated[Path, typer.Argument(help="Folder written by `botsift export-raw`.")],
    spark_dir: Annotated[Path | None, typer.Option(help="Folder of metastore_db/ and spark-warehouse/ (default: BOTSIFT_SPARK_DIR or the current directory).")] = None,
) -> None:
    """Register the raw Parquet files as tables of the raw schema in the local Spark metastore."""
    from botsift.spark import load_raw_into_spark

    for t in _run(load_raw_into_spark, parquet_dir, spark_dir):
        console.print(f"spark raw.{t.table}: {t.rows:,} rows", highlight=False)


@app.command("spark-compare")
def spark_compare_command(
    warehouse: Annotated[Path | None, typer.Option(help="DuckDB warehouse built from the same raw data (default: BOTSIFT_WAREHOUSE or warehouse/botsift.duckdb).")] = None,
    spark_dir: Annotated[Path | None, typer.Option(help="Folder of metastore_db/ and spark-warehouse/ (default: BOTSIFT_SPARK_DIR or the current directory).")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the results to this JSON file.")] = None,
) -> None:
    """Compare every staging, intermediate and mart relation on DuckDB with its Spark build."""
    import dataclasses
    import json

    from rich.table import Table

    from botsift.project import warehouse_path
    from botsift.spark import compare_with_duckdb

    results = _run(compare_with_duckdb, warehouse or _run(warehouse_path), spark_dir)
    if json_out is not None:
        json_out.write_text(json.dumps([dataclasses.asdict(r) for r in results], indent=1))
    table = Table()
    for col in ("relation", "duckdb rows", "spark rows", "values", "note"):
        table.add_column(col)
    for r in results:
        values = ("same" if not r.differing_columns else "differ: " + ", ".join(r.differing_columns)) \
            if r.compared_values else "-"
        table.add_row(r.relation, f"{r.duckdb_rows:,}",
                      "-" if r.spark_rows is None else f"{r.spark_rows:,}", values, r.note)
    Console(width=200).print(table)
    bad = [r.relation for r in results if not r.ok]
    if bad:
        _run(_fail, f"{len(bad)} relation(s) differ between DuckDB and Spark: {', '.join(bad)}")


@app.command()
def evaluate(
    paths: Annotated[list[Path], typer.Argument(help="The (training) export files or folder.")],
    preset: Annotated[str | None, typer.Option(help="Mapping preset of the training export.")] = None,
    mapping: Annotated[Path | None, typer.Option(help="Mapping YAML of the training export.")] = None,
    test_on: Annotated[list[Path] | None, typer.Option(help="Test on this export instead of cross-validating.")] = None,
    test_preset: Annotated[str | None, typer.Option(help="Mapping preset of the test export.")] = None,
    test_mapping: Annotated[Path | None, typer.Option(help="Mapping YAML of the test export.")] = None,
    folds: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
    seed: Annotated[int, typer.Option(min=0, max=SEED_MAX, help="Seed for folds and models.")] = 0,
    features: Annotated[str, typer.Option(help="warehouse (dbt build of the mart), python (its mirror), or auto (warehouse when the dbt project is here).")] = "auto",
    feature_set: Annotated[str, typer.Option(help="python features: mart or extended.")] = "mart",
    baselines: Annotated[Path | None, typer.Option(help="Published scores CSV (Hays 2023).")] = None,
    out: Annotated[Path, typer.Option(help="Folder for the JSON results.")] = Path("benchmarks/results"),
) -> None:
    """Cross-validate on one labelled export, or train on one and test on another."""
    from botsift.accounts_loader import load_mapping
    from botsift.evaluate_datasets import evaluate as run_evaluation
    from botsift.evaluate_datasets import format_result

    train_mp = _run(load_mapping, mapping, preset=preset)
    # without its own mapping or preset the test export is read with the training one
    test_mp = (_run(load_mapping, test_mapping, preset=test_preset)
               if test_on and (test_mapping or test_preset) else None)
    if baselines is None:
        guess = paths[0].resolve().parent / "baselines" / "hays2023_tree_scores.csv"
        baselines = guess if guess.is_file() else None
    elif not baselines.is_file():
        _run(_fail, f"baselines file {baselines} not found")
    try:  # before the evaluation, which takes minutes
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _run(_fail, f"cannot write results to {out}: {exc.strerror or exc}")
    result = _run(run_evaluation, paths, train_mp, test_paths=test_on, test_mapping=test_mp,
                  folds=folds, seed=seed, feature_source=features, feature_set=feature_set,
                  baselines=baselines)
    stem = (f"evaluate_cv_{result.train}" if result.mode == "cv"
            else f"evaluate_{result.train}_to_{result.test}")
    target = out / f"{stem}_{result.feature_source}_{feature_set}.json"
    target.write_text(result.to_json())
    typer.echo("\n".join(format_result(result)))
    console.print(f"saved {target}", highlight=False)


def _built_warehouse(wh: Path) -> Path:
    """``wh``, checked to exist before the dbt manifest is read: a mistyped warehouse is the
    error to report first."""
    if not wh.is_file():
        from botsift.project import connect_warehouse

        _run(connect_warehouse, wh, read_only=True)  # raises the one-line "not found"
    return wh


def _fail(message: str) -> None:
    raise BotsiftError(message)


@app.command()
def score(
    check: Annotated[bool, typer.Option("--check", help="Compare the warehouse's latest scores with scikit-learn.")] = False,
    atol: Annotated[float, typer.Option(help="Largest allowed absolute difference.")] = 1e-5,
    warehouse: WarehouseOption = None,
) -> None:
    """Scoring runs inside `dbt build`; `score --check` verifies it end to end."""
    _use_warehouse(warehouse)
    if not check:
        console.print("scores are written by `dbt build` (model ml_bot_scores); "
                      "use `botsift score --check` to verify them against scikit-learn")
        raise typer.Exit(2)
    from botsift.project import warehouse_path
    from botsift.score_check import check_warehouse_scores

    res = _run(check_warehouse_scores, _run(warehouse_path), atol=atol)
    console.print(f"{res.model_version} on {res.as_of_date}: {res.n_rows:,} rows, max abs diff "
                  f"{res.max_abs_diff:.2e}, decision mismatches {res.decision_mismatches} "
                  f"(ties within {atol:g} of a threshold: {res.ties}), decisions their own "
                  f"stored score does not give: {res.inconsistent_decisions}", highlight=False)
    if not res.passed:
        console.print("[bold red]error:[/] warehouse scores do not match scikit-learn", highlight=False)
        raise typer.Exit(1)
    console.print("[green]ok[/]: warehouse scores match scikit-learn")


@app.command("feature-report")
def feature_report(
    source: Annotated[str, typer.Option(help="labels: labelled training examples; truth: simulator ground truth.")] = "labels",
    warehouse: WarehouseOption = None,
) -> None:
    """Print, per feature, bots vs humans: medians and univariate ROC AUC."""
    _use_warehouse(warehouse)
    from rich.table import Table

    from botsift.feature_report import feature_separation
    from botsift.project import project_dir, warehouse_path

    root = _run(project_dir)
    rows, n_bots, n_humans = _run(feature_separation, _built_warehouse(warehouse_path(root)), root,
                                  source=source)
    table = Table(title=f"Feature separation ({source}: {n_bots:,} bots, {n_humans:,} humans)")
    for col in ("feature", "median bots", "median humans", "ROC AUC", "separation", "null share"):
        table.add_column(col, justify="left" if col == "feature" else "right", no_wrap=True)
    for r in rows:
        table.add_row(r.feature, f"{r.median_bots:.3g}", f"{r.median_humans:.3g}",
                      f"{r.roc_auc:.3f}", f"{r.separation:.3f}", f"{r.null_share:.2f}")
    _stdout().print(table)


@app.command()
def train(
    precision_target: Annotated[float, typer.Option(help="Precision the action threshold must reach on validation.")] = 0.95,
    recall_target: Annotated[float, typer.Option(help="Recall the review threshold must reach on validation.")] = 0.90,
    per_region: Annotated[bool, typer.Option("--per-region/--no-per-region", help="Also train per-region models where a region has enough bots.")] = True,
    seed: Annotated[int, typer.Option(min=0, max=SEED_MAX, help="Random seed: same seed, same model.")] = 0,
    label_source: Annotated[list[str] | None, typer.Option(help="Train only on rows with this label_source (repeatable).")] = None,
    min_region_positives: Annotated[int, typer.Option(help="Positive train rows a region needs for its own model.")] = 200,
    warehouse: WarehouseOption = None,
) -> None:
    """Train, evaluate and register a model version (status candidate)."""
    _use_warehouse(warehouse)
    from botsift.manifest import load_manifest
    from botsift.project import artifacts_dir, expectations_dir, project_dir, warehouse_path
    from botsift.train import train_models

    root = _run(project_dir)
    result = _run(train_models, _built_warehouse(warehouse_path(root)), _run(load_manifest, root),
                  artifacts_dir(root), precision_target=precision_target,
                  recall_target=recall_target, per_region=per_region, seed=seed,
                  label_sources=label_source or None,
                  min_region_positives=min_region_positives, progress=sys.stderr.isatty(),
                  expectations_dir=expectations_dir(root))
    th = result.card["thresholds"]
    test = result.card["metrics"]["ensemble"]["test"]
    console.print(f"model version [bold]{result.model_version}[/] (candidate), segments: "
                  f"{', '.join(result.cards)}", highlight=False)
    console.print(f"action threshold {th['action']:.4f}, review threshold {th['review']:.4f}; "
                  f"test precision {test.get('precision_at_action', float('nan')):.3f}, recall "
                  f"{test.get('recall_at_action', float('nan')):.3f} at action; test PR AUC "
                  f"{test.get('pr_auc', float('nan')):.3f}", highlight=False)
    for note in th["notes"]:
        console.print(f"[yellow]warning:[/] {note}", highlight=False)
    from botsift.registry import missed_precision_target

    unmet = [seg for seg, card in result.cards.items() if missed_precision_target(card)]
    if unmet:
        console.print(f"[yellow]warning:[/] the action threshold missed the precision target on "
                      f"validation ({', '.join(unmet)}): `models promote` refuses it as active; "
                      f"watch it as a shadow with: botsift models promote {result.model_version} "
                      "--shadow", highlight=False)
    else:
        console.print(f"promote with: botsift models promote {result.model_version}",
                      highlight=False)


@app.command()
def retrain(
    decide: Annotated[bool, typer.Option("--decide", help="Judge the shadow version on mon_shadow_outcomes: promote or retire it.")] = False,
    min_days: Annotated[int, typer.Option(help="--decide: judged days (after the shadow's training snapshot) needed first.")] = 3,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="--decide: report, change nothing.")] = False,
    build: Annotated[bool, typer.Option("--build/--no-build", help="Rebuild the training marts first (new ops decisions become labels).")] = True,
    precision_target: Annotated[float, typer.Option(help="Precision the action threshold must reach on validation.")] = 0.95,
    recall_target: Annotated[float, typer.Option(help="Recall the review threshold must reach on validation.")] = 0.90,
    per_region: Annotated[bool, typer.Option("--per-region/--no-per-region", help="Also train per-region models.")] = True,
    seed: Annotated[int, typer.Option(min=0, max=SEED_MAX, help="Random seed.")] = 0,
    warehouse: WarehouseOption = None,
) -> None:
    """Train on today's labels and run the new version in shadow; --decide promotes or retires it."""
    _use_warehouse(warehouse)
    from botsift.project import artifacts_dir, expectations_dir, project_dir, warehouse_path

    root = _run(project_dir)
    wh = warehouse_path(root)
    if decide:
        from botsift.retrain import review_shadow

        review = _run(review_shadow, wh, min_days=min_days, apply=not dry_run)
        _print_review(review)
        return
    from botsift.retrain import start_retrain

    result = _run(start_retrain, wh, root, artifacts_dir(root), build=build,
                  precision_target=precision_target, recall_target=recall_target,
                  per_region=per_region, seed=seed, progress=sys.stderr.isatty(),
                  expectations_dir=expectations_dir(root))
    test = result.card["metrics"]["ensemble"]["test"]
    console.print(f"model version [bold]{result.model_version}[/] is in shadow (test PR AUC "
                  f"{test.get('pr_auc', float('nan')):.3f}); run refreshes (dbt build), then "
                  "`botsift retrain --decide`", highlight=False)


def _print_review(review) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table

    table = Table(title=f"shadow {review.shadow_version} vs active {review.active_version} "
                        "(judged days)")
    for col in ("as_of_date", "active", "spam fraction a/s", "estimated a/s", "wrongly blocked a/s",
                "blocked a/s", "recommendation"):
        table.add_column(col, no_wrap=True)
    for d in review.days:
        table.add_row(str(d.as_of_date), d.active_model_version,
                      f"{d.active_spam_fraction:.4f} / {d.shadow_spam_fraction:.4f}",
                      f"{d.active_estimated_spam_fraction:.4f} / {d.shadow_estimated_spam_fraction:.4f}",
                      f"{d.active_wrongly_blocked} / {d.shadow_wrongly_blocked}",
                      f"{d.active_count_blocked} / {d.shadow_count_blocked}", d.recommendation)
    _stdout().print(table)
    if review.other_active_days:
        console.print(f"{review.other_active_days} day(s) compared the shadow with a version no "
                      f"longer active and are not judged", highlight=False)
    verb = {"promote": "promoted to active", "retire": "retired",
            "keep_shadow": f"kept in shadow ({len(review.days)} of {review.min_days} days judged)"}
    done = "" if review.applied or review.decision == "keep_shadow" else " (dry run: not applied)"
    console.print(f"{review.n_promote} promote / {review.n_do_not_promote} do-not-promote days: "
                  f"{review.shadow_version} {verb[review.decision]}{done}", highlight=False)


@app.command()
def robustness(
    model_version: Annotated[str | None, typer.Option(help="Registered version (default: the active one).")] = None,
    split: Annotated[str, typer.Option(help="Split of ml_training_examples to perturb.")] = "test",
    relative_step: Annotated[float, typer.Option(help="Relative step for continuous features (0.05 = +-5%).")] = 0.05,
    count_step: Annotated[float, typer.Option(help="Step for integer-valued features.")] = 1.0,
    warehouse: WarehouseOption = None,
) -> None:
    """Perturb each feature slightly; write score changes and decision flips to marts.ml_model_robustness."""
    _use_warehouse(warehouse)
    from rich.table import Table

    from botsift.robustness import ROBUSTNESS_TABLE, run_robustness

    rows = _run(run_robustness, _warehouse(), model_version=model_version, split=split,
                relative_step=relative_step, count_step=count_step)
    table = Table(title=f"Robustness of {rows[0].model_version} ({rows[0].n_rows:,} {split} rows)")
    for col in ("feature", "kind", "perturbation", "mean |score change|", "max |score change|",
                "action flips", "review flips"):
        table.add_column(col, justify="left" if col in ("feature", "kind", "perturbation") else "right",
                         no_wrap=True)
    for r in sorted(rows, key=lambda r: -r.mean_abs_score_change):
        table.add_row(r.feature, r.feature_kind, r.perturbation, f"{r.mean_abs_score_change:.5f}",
                      f"{r.max_abs_score_change:.4f}", f"{r.action_flip_share:.2%}",
                      f"{r.review_flip_share:.2%}")
    _stdout().print(table)
    console.print(f"written to {ROBUSTNESS_TABLE}", highlight=False)


models_app = typer.Typer(add_completion=False, no_args_is_help=True,
                         help="List, promote and roll back registered model versions.")
app.add_typer(models_app, name="models")


def _warehouse() -> Path:
    from botsift.project import warehouse_path

    return Path(_run(warehouse_path))


@models_app.command("list")
def models_list(warehouse: WarehouseOption = None) -> None:
    """List registered model versions and their status per segment."""
    _use_warehouse(warehouse)
    from rich.table import Table

    from botsift.registry import list_versions

    rows = _run(list_versions, _warehouse())
    table = Table()
    table.add_column("model_version", no_wrap=True, min_width=24)
    for col in ("segment", "status", "registered_at", "promoted_at", "action", "review"):
        table.add_column(col, no_wrap=col in ("segment", "status"))
    for r in rows:
        table.add_row(r["model_version"], r["segment"], r["status"],
                      f"{r['registered_at']:%Y-%m-%d %H:%M:%S}",
                      "" if r["promoted_at"] is None else f"{r['promoted_at']:%Y-%m-%d %H:%M:%S}",
                      f"{r['action_threshold']:.4f}", f"{r['review_threshold']:.4f}")
    _stdout().print(table)


@models_app.command("promote")
def models_promote(
    version: Annotated[str, typer.Argument(help="Model version to promote.")],
    shadow: Annotated[bool, typer.Option("--shadow", help="Promote to shadow (scored, not acted on).")] = False,
    accept_unmet_target: Annotated[bool, typer.Option("--accept-unmet-target", help="Make active a version whose action threshold missed the precision target on validation.")] = False,
    warehouse: WarehouseOption = None,
) -> None:
    """Make a version active (or shadow) for all its segments."""
    _use_warehouse(warehouse)
    from botsift.registry import promote

    to = "shadow" if shadow else "active"
    rows = _run(promote, _warehouse(), version, to=to, accept_unmet_target=accept_unmet_target)
    console.print(f"{version} is {to} for {', '.join(r['segment'] for r in rows)}",
                  highlight=False)


@models_app.command("retire")
def models_retire(
    version: Annotated[str, typer.Argument(help="Candidate or shadow version to retire.")],
    warehouse: WarehouseOption = None,
) -> None:
    """Retire a candidate or shadow version (an active one: promote another or roll back)."""
    _use_warehouse(warehouse)
    from botsift.registry import retire

    _run(retire, _warehouse(), version, reason="retired by hand")
    console.print(f"{version} is retired", highlight=False)


@models_app.command("rollback")
def models_rollback(warehouse: WarehouseOption = None) -> None:
    """Re-activate the previously active version and retire the current one."""
    _use_warehouse(warehouse)
    from botsift.registry import rollback

    version = _run(rollback, _warehouse())
    console.print(f"rolled back: {version} is active", highlight=False)


if __name__ == "__main__":  # pragma: no cover
    app()
