{% macro date_series(start_date_expr, end_date_expr, column_name='series_date') -%}
    {{ return(adapter.dispatch('date_series', 'botsift')(start_date_expr, end_date_expr, column_name)) }}
{%- endmacro %}

{% macro default__date_series(start_date_expr, end_date_expr, column_name) -%}
    select cast(generate_series as date) as {{ column_name }}
    from generate_series(
        cast({{ start_date_expr }} as date),
        cast({{ end_date_expr }} as date),
        interval 1 day
    )
{%- endmacro %}

{% macro spark__date_series(start_date_expr, end_date_expr, column_name) -%}
    select explode(sequence(
        cast({{ start_date_expr }} as date),
        cast({{ end_date_expr }} as date),
        interval 1 day
    )) as {{ column_name }}
{%- endmacro %}
