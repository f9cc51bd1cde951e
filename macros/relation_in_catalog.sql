{% macro relation_in_catalog(relation) -%}
    {{ return(adapter.dispatch('relation_in_catalog', 'botsift')(relation)) }}
{%- endmacro %}

{% macro default__relation_in_catalog(relation) -%}
    {{ return(relation) }}
{%- endmacro %}

{% macro duckdb__relation_in_catalog(relation) -%}
    {#- A DuckDB view keeps its SQL as written, and "botsift"."marts"."ml_bot_scores" binds only
        while the file is open under the name it was built with: a BI tool that attaches the
        warehouse under another alias, or a renamed copy, could not read fct_bot_scores.
        schema.table binds in the catalog that holds the view, whatever it is called. -#}
    {%- if relation.database == target.database -%}
        {{ return(relation.include(database=false)) }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}
