{% macro regexp_replace_all(expr, pattern, replacement) -%}
    {#- Replace every match of the regular expression `pattern` (RE2 syntax, POSIX bracket
        classes such as [[:space:]] allowed) in `expr` with `replacement`. -#}
    {{ return(adapter.dispatch('regexp_replace_all', 'botsift')(expr, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regexp_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, '{{ pattern }}', '{{ replacement }}', 'g')
{%- endmacro %}

{% macro spark__regexp_replace_all(expr, pattern, replacement) -%}
    {#- Java regexes have no POSIX bracket classes ([[:space:]] would match the letters of
        "space"), so they become Java's \p{...} classes; Spark string literals unescape
        backslashes, so every backslash is doubled. -#}
    {%- set java = pattern
        | replace('[:space:]', '\\p{Space}') | replace('[:digit:]', '\\p{Digit}')
        | replace('[:alpha:]', '\\p{Alpha}') | replace('[:alnum:]', '\\p{Alnum}')
        | replace('[:upper:]', '\\p{Upper}') | replace('[:lower:]', '\\p{Lower}')
        | replace('[:punct:]', '\\p{Punct}') -%}
    regexp_replace({{ expr }}, '{{ java | replace('\\', '\\\\') }}', '{{ replacement }}')
{%- endmacro %}
