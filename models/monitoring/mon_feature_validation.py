"""One row per as-of date and expectation: the active model's GX suite on each new snapshot."""


def model(dbt, session):
    # incremental: a refresh validates the dates it brings (and the last one again), not every
    # date since training; the package deletes a replaced version's rows first
    dbt.config(
        materialized="incremental",
        unique_key=["as_of_date", "model_version", "feature", "expectation_type"],
        incremental_strategy="delete+insert",
    )
    suite_dir = dbt.config.get("suite_dir")
    build_docs = dbt.config.get("build_data_docs")
    docs_keep = dbt.config.get("data_docs_keep")
    from botsift.monitoring import dbt_feature_validation

    rows = dbt_feature_validation(
        dbt.ref("fct_account_features"), dbt.source("registry", "model_versions"),
        dbt.source("registry", "feature_reference"), suite_dir=suite_dir, build_docs=build_docs,
        docs_keep=docs_keep, con=session, this=str(dbt.this) if dbt.is_incremental else None,
    )
    # a relation on the model's connection: dbt-duckdb writes an Arrow table returned as such
    # outside the transaction the pre-hook opened, where the incremental insert cannot see it
    return session.from_arrow(rows)
