{% macro safe_divide(numerator, denominator) -%}
    {#- Ratio as double; null when the denominator is zero or null. -#}
    (cast({{ numerator }} as double) / nullif(cast({{ denominator }} as double), 0))
{%- endmacro %}
