{% macro array_size(column) -%}
    {#- Number of elements in an array column; null for a null array. -#}
    {{ return(adapter.dispatch('array_size', 'botsift')(column)) }}
{%- endmacro %}

{% macro default__array_size(column) -%}
    cardinality({{ column }})
{%- endmacro %}

{% macro duckdb__array_size(column) -%}
    len({{ column }})
{%- endmacro %}

{% macro spark__array_size(column) -%}
    {#- size(null) is -1 under spark.sql.legacy.sizeOfNull, so guard nulls explicitly. -#}
    case when {{ column }} is null then null else size({{ column }}) end
{%- endmacro %}
