{% macro drop_python_temp_tables() -%}
    {#- Post-hook of the incremental Python models on DuckDB. dbt-duckdb writes an incremental
        Python model's rows to `<model>__dbt_tmp<timestamp>` in schema main and, because it
        counts that table as temporary, never drops it: a refresh left one more pair of them
        (ml_bot_scores, mon_feature_validation) in the warehouse a BI tool lists. Drops this
        model's, the one just written and any a killed run left. Renders nothing elsewhere. -#}
    {%- if execute and target.type == 'duckdb' -%}
        {%- set found = run_query(
            "select schema_name, table_name from duckdb_tables() "
            ~ "where database_name = current_database() and not temporary "
            ~ "and starts_with(table_name, '" ~ this.identifier ~ "__dbt_tmp')") -%}
        {%- for row in found.rows -%}
            drop table if exists "{{ row[0] }}"."{{ row[1] }}";
        {% endfor -%}
    {%- endif -%}
{%- endmacro %}
