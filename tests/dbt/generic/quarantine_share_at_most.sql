{% test quarantine_share_at_most(model, max_share=none) %}
{#- Fails when more than `max_share` (default var('max_quarantine_share')) of the rows of the
    latest load (the latest `_loaded_at` day) of a base model were quarantined by a rule
    other than `duplicate_id`: a re-export whose regions changed case, or a loader that
    broke a column, quarantines everything, and the refresh would then re-publish the last
    good scores as if new. Duplicates are left out: an at-least-once feed delivers copies. -#}
{%- set limit = var('max_quarantine_share') if max_share is none else max_share -%}

with

base_rows as (

    select * from {{ model }}

),

latest_load as (

    -- a load time in the future is quarantined on its own (future_loaded_at), not a load
    select max(cast(_loaded_at as date)) as load_date
    from base_rows
    where _loaded_at <= {{ dbt.dateadd('hour', 1, botsift.utc_now()) }}

),

load_rows as (

    select
        latest_load.load_date,
        count(*) as count_rows,
        sum(
            case
                when base_rows.quarantine_reason is not null
                    and base_rows.quarantine_reason <> 'duplicate_id' then 1
                else 0
            end
        ) as count_quarantined
    from base_rows
    inner join latest_load
        on cast(base_rows._loaded_at as date) = latest_load.load_date
    group by latest_load.load_date

),

final as (

    select
        load_date,
        count_rows,
        count_quarantined,
        cast(count_quarantined as {{ dbt.type_float() }}) / count_rows as quarantined_share
    from load_rows
    where count_quarantined > {{ limit }} * count_rows

)

select * from final

{% endtest %}
