{% macro quarantine_if_future(columns, reason='future_timestamp', tolerance_hours=0) -%}
    {#- Quarantine rule: `reason` when any of the timestamp `columns` is later than now (UTC),
        or than `tolerance_hours` after it (a loader's `_loaded_at`: its clock may run a little
        ahead of the build's, and a load time in the future would win every later correction
        of the row, the latest loaded copy being kept). -#}
    {%- set bound = botsift.utc_now() if tolerance_hours == 0
                    else dbt.dateadd('hour', tolerance_hours, botsift.utc_now()) -%}
    case
        when {% for column in columns %}{{ column }} > {{ bound }}{% if not loop.last %} or {% endif %}{% endfor %}
            then '{{ reason }}'
    end
{%- endmacro %}
