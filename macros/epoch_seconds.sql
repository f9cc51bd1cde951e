{% macro epoch_seconds(timestamp_expr) -%}
    {#- Whole seconds since 1970-01-01 00:00:00, rounded down (a post at 12:00:59.6 is in
        minute 12:00 on every engine). -#}
    {{ return(adapter.dispatch('epoch_seconds', 'botsift')(timestamp_expr)) }}
{%- endmacro %}

{% macro default__epoch_seconds(timestamp_expr) -%}
    {#- DuckDB's epoch() has fractional seconds and a cast to bigint rounds: floor first. -#}
    cast(floor(epoch({{ timestamp_expr }})) as bigint)
{%- endmacro %}

{% macro spark__epoch_seconds(timestamp_expr) -%}
    cast(unix_timestamp({{ timestamp_expr }}) as bigint)
{%- endmacro %}
