{{ config(materialized='table') }}

{#- The as-of dates features are snapshotted for: the last `feature_snapshot_days` days that
    have activity. With no event tables (account-metadata mode) it is the export date. -#}

with

daily_activity as {{ botsift.not_materialized() }} (

    select * from {{ ref('int_accounts__daily_activity') }}

),

accounts as (

    select * from {{ ref('stg_platform__accounts') }}

),

bounds as (

    select
        coalesce(
            {% if var('feature_as_of_date', none) %}cast('{{ var("feature_as_of_date") }}' as date),{% endif %}
            (select max(activity_date) from daily_activity),
            (select cast(max(exported_at) as date) from accounts)
        ) as last_date,
        (select min(activity_date) from daily_activity) as first_activity_date

),

date_range as (

    select
        last_date,
        case
            when first_activity_date is null then last_date
            when {{ dbt.dateadd('day', 1 - var('feature_snapshot_days'), 'last_date') }} < first_activity_date
                then first_activity_date
            else cast({{ dbt.dateadd('day', 1 - var('feature_snapshot_days'), 'last_date') }} as date)
        end as first_date
    from bounds

),

series as (

    {{ date_series(
        '(select first_date from date_range)',
        '(select last_date from date_range)',
        'as_of_date') }}

),

final as (

    select
        cast(as_of_date as date) as as_of_date,
        case when as_of_date = (select last_date from date_range) then true else false end as is_latest
    from series

)

select * from final
