{% macro trailing_window(expr, days, agg='sum', partition_by='account_id', order_by='as_of_date') -%}
    {#- Aggregate over the trailing `days` rows (days, on a dense one-row-per-day grid)
        ending at the current row. -#}
    {{ agg }}({{ expr }}) over (
        partition by {{ partition_by }}
        order by {{ order_by }}
        rows between {{ days - 1 }} preceding and current row
    )
{%- endmacro %}
