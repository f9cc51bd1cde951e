def model(dbt, session):
    """Score feature snapshots with the registry's active (and shadow) ONNX models.

    Thin adapter over botsift.scoring_model.score_snapshot, where the logic and its tests live.
    """
    dbt.config(
        materialized="incremental",
        unique_key=["account_id", "as_of_date", "model_version"],
        incremental_strategy="delete+insert",
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
