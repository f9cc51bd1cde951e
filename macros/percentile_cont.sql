{% macro percentile_cont(column, fraction) -%}
    {#- Aggregate: the continuous (interpolated) percentile `fraction` (0-1) of a column. -#}
    {{ return(adapter.dispatch('percentile_cont', 'botsift')(column, fraction)) }}
{%- endmacro %}

{% macro default__percentile_cont(column, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ column }})
{%- endmacro %}

{% macro duckdb__percentile_cont(column, fraction) -%}
    quantile_cont({{ column }}, {{ fraction }})
{%- endmacro %}

{% macro spark__percentile_cont(column, fraction) -%}
    percentile({{ column }}, {{ fraction }})
{%- endmacro %}
