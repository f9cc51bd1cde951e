{% macro contains_invalid_text(column) -%}
    {#- True when a text value holds the U+FFFD replacement character (a loader's failed
        UTF-8 decode) or a C0 control character other than tab, newline and carriage return. -#}
    {{ return(adapter.dispatch('contains_invalid_text', 'botsift')(column)) }}
{%- endmacro %}

{% macro default__contains_invalid_text(column) -%}
    regexp_like({{ column }}, '[\x00-\x08\x0B\x0C\x0E-\x1F\x{FFFD}]')
{%- endmacro %}

{% macro duckdb__contains_invalid_text(column) -%}
    regexp_matches({{ column }}, '[\x00-\x08\x0B\x0C\x0E-\x1F\x{FFFD}]')
{%- endmacro %}

{% macro spark__contains_invalid_text(column) -%}
    {#- Spark string literals unescape backslashes, so the Java regex escapes are doubled. -#}
    {{ column }} rlike '[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x{FFFD}]'
{%- endmacro %}
