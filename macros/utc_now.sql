{% macro utc_now() -%}
    {#- The current time as a timezone-naive UTC timestamp, comparable with raw timestamps. -#}
    {{ return(adapter.dispatch('utc_now', 'botsift')()) }}
{%- endmacro %}

{% macro default__utc_now() -%}
    {{ dbt.current_timestamp() }}
{%- endmacro %}

{% macro duckdb__utc_now() -%}
    cast(timezone('UTC', now()) as timestamp)
{%- endmacro %}

{% macro spark__utc_now() -%}
    to_utc_timestamp(current_timestamp(), current_timezone())
{%- endmacro %}
