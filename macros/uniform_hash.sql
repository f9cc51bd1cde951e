{% macro uniform_hash(expr, salt='') -%}
    {#- Deterministic pseudo-random number in [0, 1) from any value: the same input and salt
        give the same number on every run and engine (used for sampling and split assignment). -#}
    {{ return(adapter.dispatch('uniform_hash', 'botsift')(expr, salt)) }}
{%- endmacro %}

{% macro default__uniform_hash(expr, salt) -%}
    (cast(('0x' || substr(md5(cast({{ expr }} as varchar) || '{{ salt }}'), 1, 8)) as bigint) / 4294967296.0)
{%- endmacro %}

{% macro spark__uniform_hash(expr, salt) -%}
    (cast(conv(substr(md5(concat(cast({{ expr }} as string), '{{ salt }}')), 1, 8), 16, 10) as bigint) / 4294967296.0)
{%- endmacro %}
