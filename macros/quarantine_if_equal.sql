{% macro quarantine_if_equal(left, right, reason) -%}
    {#- Quarantine rule: `reason` when `left` equals `right` (for example an account
        following itself, which the platform does not allow), else null. -#}
    case
        when {{ left }} = {{ right }}
            then '{{ reason }}'
    end
{%- endmacro %}
