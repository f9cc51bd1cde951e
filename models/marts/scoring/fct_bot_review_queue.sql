{{ config(materialized='table') }}

{#- Accounts the active model flags on the latest scored snapshot, ranked for reviewers:
    'action' before 'review', then by probability. top_features says why (the largest
    contributions of the account's features to the deployed ensemble's score). -#}

with

scores as {{ botsift.not_materialized() }} (

    select * from {{ ref('fct_bot_scores') }}
    where deployment_status = 'active'

),

latest_date as (

    select max(as_of_date) as as_of_date from scores

),

latest_scores as {{ botsift.not_materialized() }} (

    select scores.*
    from scores
    inner join latest_date
        on scores.as_of_date = latest_date.as_of_date

),

version_in_force as (

    {{ active_versions_in_force('latest_scores') }}

),

flagged as (

    select latest_scores.*
    from latest_scores
    inner join version_in_force
        on latest_scores.model_version = version_in_force.model_version
    where latest_scores.decision in ('review', 'action')

),

final as (

    select
        cast(row_number() over (
            order by case when decision = 'action' then 0 else 1 end, bot_probability desc, account_id
        ) as bigint) as queue_rank,
        cast(account_id as bigint) as account_id,
        cast(as_of_date as date) as as_of_date,
        cast(region as varchar) as region,
        cast(bot_probability as double) as bot_probability,
        cast(decision as varchar) as decision,
        cast(model_version as varchar) as model_version,
        cast(top_features as varchar) as top_features,
        cast(scored_at as timestamp) as scored_at
    from flagged

)

select * from final
