{% macro quarantine_if_not_accepted(column, accepted_values, reason='unknown_enum') -%}
    {#- Quarantine rule: `reason` when `column` holds a value outside `accepted_values`
        (normally an accepted_* var). Null is not judged here: use quarantine_if_null. -#}
    case
        when {{ column }} not in (
            {%- for value in accepted_values -%}
                '{{ value | replace("'", "''") }}'{% if not loop.last %}, {% endif %}
            {%- endfor -%}
        )
            then '{{ reason }}'
    end
{%- endmacro %}
