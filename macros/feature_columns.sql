{% macro feature_columns(model_name='fct_account_features') %}
{#- The columns of `model_name` declared `meta: {role: feature}` in its YAML: the one feature
    list, read from the graph (empty at parse time). -#}
{%- set features = [] -%}
{%- if execute -%}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.' ~ model_name) -%}
    {%- for col in (node.columns.values() if node else []) -%}
        {%- set meta = col.meta or (col.config.meta if col.config is defined and col.config else {}) or {} -%}
        {%- if meta.get('role') == 'feature' -%}
            {%- do features.append(col.name) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif -%}
{{ return(features) }}
{% endmacro %}
