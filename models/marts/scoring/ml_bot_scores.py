def model(dbt, session):
    """Score feature snapshots with the registry's active (and shadow) ONNX models.

    Thin adapter over botsift.scoring_model.dbt_score_model, where the logic and its tests live.
    """
    # append: the package deletes each version's rows of the dates it re-scores first, in
    # this model's transaction (whole dates, so an account that left a recomputed snapshot
    # loses its old score too), then inserts the new rows itself and returns none (dbt-duckdb
    # would write them to a temporary table, then copy them); uniqueness is the
    # unique_combination test's
    dbt.config(
        materialized="incremental",
        incremental_strategy="append",
    )
    batch_size = dbt.config.get("batch_size")
    backfill_days = dbt.config.get("backfill_days")
    workers = dbt.config.get("workers")
    def features():
        # called inside the package, so a feature table never built fails in one line
        # (a def, not a lambda: dbt finds refs in a function body, not in a lambda)
        return dbt.ref("fct_account_features")

    from botsift.scoring_model import dbt_score_model

    return dbt_score_model(
        session,
        features,
        this=str(dbt.this) if dbt.is_incremental else None,
        batch_size=batch_size,
        backfill_days=backfill_days,
        workers=workers,
    )
