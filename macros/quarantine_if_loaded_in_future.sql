{% macro quarantine_if_loaded_in_future(column, reason='future_loaded_at') -%}
    {#- Quarantine rule: `reason` when the loader's `_loaded_at` (`column`) is more than an hour
        after now (UTC); the hour allows for a loader's clock running a little ahead. A
        future load time would win every later correction of the row (the latest loaded copy
        is kept) and keep it looking freshly loaded. -#}
    case
        when {{ column }} > {{ dbt.dateadd('hour', 1, botsift.utc_now()) }}
            then '{{ reason }}'
    end
{%- endmacro %}
