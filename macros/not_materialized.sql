{% macro not_materialized() -%}
    {#- Written between a CTE's `as` and its body: `logins as {{ botsift.not_materialized() }} (...)`.
        DuckDB (1.5) materializes every CTE a query references more than once, so an import
        CTE (`select * from {{ ref(...) }}`) used twice copied its whole table into memory
        before the query could start; inlined, each use scans the table with its own
        projection and filters pushed down. Other engines inline CTEs already (Spark has no
        such keyword): nothing there. Leave it off a CTE that aggregates or joins, where one
        materialization is cheaper than computing it twice. A view does not keep it (DuckDB
        stores a view's SQL without it): there, name the relation twice instead. -#}
    {{ return(adapter.dispatch('not_materialized', 'botsift')()) }}
{%- endmacro %}

{% macro default__not_materialized() -%}
{%- endmacro %}

{% macro duckdb__not_materialized() -%}
    not materialized
{%- endmacro %}
