{{ config(materialized='view') }}

with

ml_bot_scores as (

    select * from {{ ref('ml_bot_scores') }}

),

final as (

    select
        cast(account_id as bigint) as account_id,
        cast(as_of_date as date) as as_of_date,
        cast(region as varchar) as region,
        cast(model_version as varchar) as model_version,
        cast(model_segment as varchar) as model_segment,
        cast(deployment_status as varchar) as deployment_status,
        cast(bot_probability as double) as bot_probability,
        cast(decision as varchar) as decision,
        cast(top_features as varchar) as top_features,
        cast(scored_at as timestamp) as scored_at
    from ml_bot_scores

)

select * from final
