"""One row per as-of date and expectation: the active model's GX suite on each new snapshot."""


def model(dbt, session):
    dbt.config(materialized="table")
    suite_dir = dbt.config.get("suite_dir")
    build_docs = dbt.config.get("build_data_docs")
    from botsift.monitoring import dbt_feature_validation

    return dbt_feature_validation(
        dbt.ref("fct_account_features"), dbt.source("registry", "model_versions"),
        dbt.source("registry", "feature_reference"), suite_dir=suite_dir, build_docs=build_docs,
    )
