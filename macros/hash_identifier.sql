{% macro hash_identifier(column) -%}
    {#- Salted one-way hash of an identifier (IP address, device id). The salt comes from the
        BOTSIFT_HASH_SALT environment variable, falling back to var('hash_salt'). Null in,
        null out (a plain concat would hash the salt alone). -#}
    {{ return(adapter.dispatch('hash_identifier', 'botsift')(column)) }}
{%- endmacro %}

{% macro default__hash_identifier(column) -%}
    case
        when {{ column }} is null then null
        else {{ dbt.hash(dbt.concat(["'" ~ botsift.hash_salt() ~ "'", column])) }}
    end
{%- endmacro %}

{% macro duckdb__hash_identifier(column) -%}
    case
        when {{ column }} is null then null
        else sha256(concat('{{ botsift.hash_salt() }}', {{ column }}))
    end
{%- endmacro %}

{% macro spark__hash_identifier(column) -%}
    case
        when {{ column }} is null then null
        else sha2(concat('{{ botsift.hash_salt() }}', {{ column }}), 256)
    end
{%- endmacro %}
