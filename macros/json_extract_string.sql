{% macro json_extract_string(column, path) -%}
    {#- The value at a JSON path (for example '$.training_snapshot') of a JSON text column, as text. -#}
    {{ return(adapter.dispatch('json_extract_string', 'botsift')(column, path)) }}
{%- endmacro %}

{% macro default__json_extract_string(column, path) -%}
    json_extract_path_text(cast({{ column }} as {{ dbt.type_string() }}), '{{ path[2:] }}')
{%- endmacro %}

{% macro duckdb__json_extract_string(column, path) -%}
    json_extract_string({{ column }}, '{{ path }}')
{%- endmacro %}

{% macro spark__json_extract_string(column, path) -%}
    get_json_object(cast({{ column }} as string), '{{ path }}')
{%- endmacro %}
