{% macro quarantine_if_invalid_text(columns, reason='invalid_encoding') -%}
    {#- Quarantine rule: `reason` when any of the text `columns` holds a U+FFFD replacement
        character or a forbidden C0 control character (see contains_invalid_text). -#}
    case
        when {% for column in columns %}{{ botsift.contains_invalid_text(column) }}{% if not loop.last %} or {% endif %}{% endfor %}
            then '{{ reason }}'
    end
{%- endmacro %}
