{% macro local_hour(timestamp_expr, utc_offset_hours_expr) -%}
    {#- Hour of day (0-23) in the account's region, from a UTC timestamp and a whole-hour
        offset. Arithmetic on the hour avoids time-zone extensions that differ by engine. -#}
    (((cast(extract(hour from {{ timestamp_expr }}) as integer) + cast({{ utc_offset_hours_expr }} as integer)) % 24 + 24) % 24)
{%- endmacro %}
