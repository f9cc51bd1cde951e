{{ config(materialized='view') }}

with

ml_bot_scores as (

    select * from {{ ref('ml_bot_scores') }}

),

versions_in_force as (

    -- the active version in force on each date: the one that scored it most recently (after
    -- a promotion or rollback, the previous active version's rows for a re-scored date stay
    -- as history, still marked active)
    {{ active_versions_in_force('ml_bot_scores') }}

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
        case
            when versions_in_force.model_version is not null then true
            else false
        end as is_in_force
    from ml_bot_scores
    left join versions_in_force
        on ml_bot_scores.as_of_date = versions_in_force.as_of_date
        and ml_bot_scores.model_version = versions_in_force.model_version
        and ml_bot_scores.deployment_status = 'active'

)

select * from final
