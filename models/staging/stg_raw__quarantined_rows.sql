{%- set quarantined_tables = [
    ('accounts', 'base_platform__accounts'),
    ('posts', 'base_platform__posts'),
    ('logins', 'base_platform__logins'),
    ('follows', 'base_platform__follows'),
    ('interactions', 'base_platform__interactions'),
    ('ops_reviews', 'base_ops__reviews'),
] -%}

with

{% for source_table, base_model in quarantined_tables %}
{{ base_model }} as (

    select * from {{ ref(base_model) }}

),

{% endfor %}
quarantined as (

    {% for source_table, base_model in quarantined_tables %}
    select
        '{{ source_table }}' as source_table,
        cast({{ base_model }}.id as {{ dbt.type_string() }}) as raw_id,
        {{ base_model }}.quarantine_reason,
        {{ botsift.row_to_json(base_model) }} as raw_row,
        {{ base_model }}._loaded_at as loaded_at
    from {{ base_model }}
    where {{ base_model }}.quarantine_reason is not null
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

numbered as (

    select
        quarantined.*,
        row_number() over (
            partition by source_table, raw_id
            order by raw_row
        ) as copy_number
    from quarantined

),

final as (

    select
        {{ dbt.concat([
            'source_table', "':'", "coalesce(raw_id, 'null')", "':'",
            dbt.cast('copy_number', dbt.type_string()),
        ]) }} as quarantined_row_id,
        source_table,
        raw_id,
        quarantine_reason,
        raw_row,
        loaded_at
    from numbered

)

select * from final
