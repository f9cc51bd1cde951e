{% macro row_to_json(relation_alias) -%}
    {#- The whole row of a relation alias as one JSON text value (all columns, their names
        as keys), for keeping quarantined rows inspectable in a single column. -#}
    {{ return(adapter.dispatch('row_to_json', 'botsift')(relation_alias)) }}
{%- endmacro %}

{% macro default__row_to_json(relation_alias) -%}
    to_json(struct({{ relation_alias }}.*))
{%- endmacro %}

{% macro duckdb__row_to_json(relation_alias) -%}
    cast(to_json({{ relation_alias }}) as varchar)
{%- endmacro %}
