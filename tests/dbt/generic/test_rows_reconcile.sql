{% test rows_reconcile(model, column_name, raw_relation, quarantine_relation, source_table, raw_id_column='id') %}
{#- Fails when the clean model plus its quarantined rows do not add back up to the raw table:
    compares row counts and, as a cheap checksum of which rows went where, the sum of ids.
    `column_name` is the model's primary key (the renamed raw id). -#}

with

raw_rows as (

    select
        count(*) as count_rows,
        sum({{ raw_id_column }}) as sum_ids
    from {{ raw_relation }}

),

clean_rows as (

    select
        count(*) as count_rows,
        sum({{ column_name }}) as sum_ids
    from {{ model }}

),

quarantined_rows as (

    select
        count(*) as count_rows,
        sum(cast(raw_id as {{ dbt.type_bigint() }})) as sum_ids
    from {{ quarantine_relation }}
    where source_table = '{{ source_table }}'

),

final as (

    select
        raw_rows.count_rows as count_raw_rows,
        clean_rows.count_rows as count_clean_rows,
        quarantined_rows.count_rows as count_quarantined_rows,
        raw_rows.sum_ids as sum_raw_ids,
        coalesce(clean_rows.sum_ids, 0) + coalesce(quarantined_rows.sum_ids, 0) as sum_staged_ids
    from raw_rows
    cross join clean_rows
    cross join quarantined_rows

)

select * from final
where count_raw_rows <> count_clean_rows + count_quarantined_rows
    or coalesce(sum_raw_ids, 0) <> sum_staged_ids

{% endtest %}
