{#- For every raw table: raw rows = clean staging rows + quarantined rows, in count and in the
    sum of ids (a cheap checksum that catches a row swapped or moved between the two sides).
    Platform-scale ids (Twitter's reach about 1.5e18) overflow a bigint sum after a few rows:
    DuckDB sums bigints into a 128-bit integer, and dbt-spark runs with ANSI mode off, where a
    bigint sum wraps modulo 2^64 on both sides alike, so the checksum holds either way
    (test_spark.py builds with such ids).
    Returns one row per raw table that does not add up. -#}
{%- set staged_tables = [
    ('accounts', source('platform', 'accounts'), ref('stg_platform__accounts'), 'account_id'),
    ('posts', source('platform', 'posts'), ref('stg_platform__posts'), 'post_id'),
    ('logins', source('platform', 'logins'), ref('stg_platform__logins'), 'login_id'),
    ('follows', source('platform', 'follows'), ref('stg_platform__follows'), 'follow_id'),
    ('interactions', source('platform', 'interactions'), ref('stg_platform__interactions'), 'interaction_id'),
    ('ops_reviews', source('ops', 'ops_reviews'), ref('stg_ops__reviews'), 'review_id'),
] -%}

with

stg_raw__quarantined_rows as (

    select * from {{ ref('stg_raw__quarantined_rows') }}

),

quarantined_per_table as (

    select
        source_table,
        count(*) as count_rows,
        sum(cast(raw_id as {{ dbt.type_bigint() }})) as sum_ids
    from stg_raw__quarantined_rows
    group by source_table

),

per_table as (

    {% for table_name, raw_relation, staging_relation, key in staged_tables %}
    select
        '{{ table_name }}' as source_table,
        (select count(*) from {{ raw_relation }}) as count_raw_rows,
        (select count(*) from {{ staging_relation }}) as count_clean_rows,
        (select coalesce(sum(id), 0) from {{ raw_relation }}) as sum_raw_ids,
        (select coalesce(sum({{ key }}), 0) from {{ staging_relation }}) as sum_clean_ids
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        per_table.source_table,
        per_table.count_raw_rows,
        per_table.count_clean_rows,
        coalesce(quarantined_per_table.count_rows, 0) as count_quarantined_rows,
        per_table.sum_raw_ids,
        per_table.sum_clean_ids + coalesce(quarantined_per_table.sum_ids, 0) as sum_staged_ids
    from per_table
    left join quarantined_per_table
        on per_table.source_table = quarantined_per_table.source_table

)

select * from final
where count_raw_rows <> count_clean_rows + count_quarantined_rows
    or sum_raw_ids <> sum_staged_ids
