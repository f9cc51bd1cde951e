{% macro quarantine_if_future(columns, reason='future_timestamp') -%}
    {#- Quarantine rule: `reason` when any of the timestamp `columns` is later than now (UTC). -#}
    case
        when {% for column in columns %}{{ column }} > {{ botsift.utc_now() }}{% if not loop.last %} or {% endif %}{% endfor %}
            then '{{ reason }}'
    end
{%- endmacro %}
