{% macro quarantine_if_null(columns, reason='null_required') -%}
    {#- Quarantine rule: `reason` when any of `columns` is null, else null. -#}
    case
        when {% for column in columns %}{{ column }} is null{% if not loop.last %} or {% endif %}{% endfor %}
            then '{{ reason }}'
    end
{%- endmacro %}
