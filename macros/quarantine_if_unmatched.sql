{% macro quarantine_if_unmatched(column, matched_column, reason='unknown_account') -%}
    {#- Quarantine rule for orphans: `reason` when `column` holds a value but the left-joined
        `matched_column` of the clean parent rows is null (no clean parent row matched). -#}
    case
        when {{ column }} is not null and {{ matched_column }} is null
            then '{{ reason }}'
    end
{%- endmacro %}
