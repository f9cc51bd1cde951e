{% macro source() -%}
    {#- dbt's source, written without the catalog on DuckDB (see relation_in_catalog). -#}
    {{ return(relation_in_catalog(builtins.source(*varargs, **kwargs))) }}
{%- endmacro %}
