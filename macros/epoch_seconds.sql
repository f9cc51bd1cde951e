{% macro epoch_seconds(timestamp_expr) -%}
    {{ return(adapter.dispatch('epoch_seconds', 'botsift')(timestamp_expr)) }}
{%- endmacro %}

{% macro default__epoch_seconds(timestamp_expr) -%}
    cast(epoch({{ timestamp_expr }}) as bigint)
{%- endmacro %}

{% macro spark__epoch_seconds(timestamp_expr) -%}
    cast(unix_timestamp({{ timestamp_expr }}) as bigint)
{%- endmacro %}
