{% macro unnest_list(list_expr) -%}
    {#- One output row per element of an array column, used in a select list. -#}
    {{ return(adapter.dispatch('unnest_list', 'botsift')(list_expr)) }}
{%- endmacro %}

{% macro default__unnest_list(list_expr) -%}
    unnest({{ list_expr }})
{%- endmacro %}

{% macro spark__unnest_list(list_expr) -%}
    explode({{ list_expr }})
{%- endmacro %}
