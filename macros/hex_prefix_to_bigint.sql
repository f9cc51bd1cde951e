{% macro hex_prefix_to_bigint(hex_expr) -%}
    {#- The first 15 hex digits (60 bits) of a hex digest as a non-negative BIGINT: the same
        integer on every engine. A join, group or window key half the width of a 32- or
        64-character digest string. -#}
    {{ return(adapter.dispatch('hex_prefix_to_bigint', 'botsift')(hex_expr)) }}
{%- endmacro %}

{% macro default__hex_prefix_to_bigint(hex_expr) -%}
    {{ exceptions.raise_compiler_error(
        "hex_prefix_to_bigint has no implementation for adapter '" ~ adapter.type() ~ "': add a "
        ~ "macro " ~ adapter.type() ~ "__hex_prefix_to_bigint reading the first 15 hex digits "
        ~ "as a BIGINT (see duckdb__hex_prefix_to_bigint)") }}
{%- endmacro %}

{% macro duckdb__hex_prefix_to_bigint(hex_expr) -%}
    cast('0x' || left({{ hex_expr }}, 15) as bigint)
{%- endmacro %}

{% macro spark__hex_prefix_to_bigint(hex_expr) -%}
    cast(conv(substr({{ hex_expr }}, 1, 15), 16, 10) as bigint)
{%- endmacro %}
