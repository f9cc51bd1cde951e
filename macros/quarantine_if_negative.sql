{% macro quarantine_if_negative(columns, reason='negative_counter') -%}
    {#- Quarantine rule: `reason` when any of the counter `columns` is below zero, else null. -#}
    case
        when {% for column in columns %}{{ column }} < 0{% if not loop.last %} or {% endif %}{% endfor %}
            then '{{ reason }}'
    end
{%- endmacro %}
