{{ config(materialized='view') }}

{#- The score table's relation is read twice (the rows, and the versions in force), and not
    through one import CTE: DuckDB 1.5 materializes a CTE a query references twice, which
    copied the whole score history into memory on every query of this view, and a view does
    not keep `not materialized` (DuckDB stores its SQL without it). The join is on the date
    and version alone (a row is in force when it is also active): with the status test in a
    left join's condition DuckDB ran a nested-loop join over every row. At 1M accounts x 17
    scored dates (17.96M rows), best of 3: one date's count 0.56 -> 0.015 s, a count of the
    whole table 0.96 -> 0.19 s; at 51 dates (53.9M rows) 1.51 -> 0.017 s and 3.66 -> 0.59 s. -#}

with

ml_bot_scores as (

    select * from {{ ref('ml_bot_scores') }}

),

versions_in_force as (

    -- the active version in force on each date: the one that scored it most recently (after
    -- a promotion or rollback, the previous active version's rows for a re-scored date stay
    -- as history, still marked active)
    {{ active_versions_in_force(ref('ml_bot_scores')) }}

),

final as (

    select
        cast(ml_bot_scores.account_id as bigint) as account_id,
        cast(ml_bot_scores.as_of_date as date) as as_of_date,
        cast(ml_bot_scores.region as varchar) as region,
        cast(ml_bot_scores.model_version as varchar) as model_version,
        cast(ml_bot_scores.model_segment as varchar) as model_segment,
        cast(ml_bot_scores.deployment_status as varchar) as deployment_status,
        cast(ml_bot_scores.bot_probability as double) as bot_probability,
        cast(ml_bot_scores.decision as varchar) as decision,
        cast(ml_bot_scores.top_features as varchar) as top_features,
        cast(ml_bot_scores.scored_at as timestamp) as scored_at,
        -- a version's rows of a date all have one status (re-scoring replaces them whole)
        coalesce(
            versions_in_force.model_version is not null and ml_bot_scores.deployment_status = 'active',
            false
        ) as is_in_force
    from ml_bot_scores
    left join versions_in_force
        on ml_bot_scores.as_of_date = versions_in_force.as_of_date
        and ml_bot_scores.model_version = versions_in_force.model_version

)

select * from final
