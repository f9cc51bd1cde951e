{% macro metric_columns(values, metrics) -%}
    {#- One select-list entry per metric: the expression given in `values` for it, else 0.
        Lets branches of a union share one column list. -#}
    {%- for m in metrics %}
        {{ values.get(m, '0') }} as {{ m }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}
