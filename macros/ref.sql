{% macro ref() -%}
    {#- dbt's ref, written without the catalog on DuckDB (see relation_in_catalog). -#}
    {{ return(relation_in_catalog(builtins.ref(*varargs, **kwargs))) }}
{%- endmacro %}
