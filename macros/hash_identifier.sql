{% macro hash_identifier(column) -%}
    {#- Salted one-way hash of an identifier (IP address, device id) as a BIGINT: the first 60
        bits (15 hex digits) of the salted SHA-256. The salt comes from the BOTSIFT_HASH_SALT
        environment variable, falling back to var('hash_salt'). Null or blank in, null out (a
        plain concat would hash the salt alone, and an export's empty string is no identifier:
        hashed, it made every account logging in without an IP share one). An integer key, not the 64-character hex digest:
        identifiers are grouped, joined and windowed over every login, and at 1M accounts
        (11M logins) the shared-access model ran in 14 s on integer keys against 29 s on hex
        strings. 60 bits keep collisions negligible (about 4e-5 for 10M distinct identifiers). -#}
    {{ return(adapter.dispatch('hash_identifier', 'botsift')(column)) }}
{%- endmacro %}

{% macro default__hash_identifier(column) -%}
    {{ exceptions.raise_compiler_error(
        "hash_identifier has no implementation for adapter '" ~ adapter.type() ~ "': add a macro "
        ~ adapter.type() ~ "__hash_identifier returning the first 15 hex digits of the salted "
        ~ "SHA-256 as a BIGINT (see duckdb__hash_identifier)") }}
{%- endmacro %}

{% macro duckdb__hash_identifier(column) -%}
    case
        when nullif(trim({{ column }}), '') is null then null
        else {{ botsift.hex_prefix_to_bigint("sha256(concat('" ~ botsift.hash_salt() ~ "', " ~ column ~ "))") }}
    end
{%- endmacro %}

{% macro spark__hash_identifier(column) -%}
    case
        when nullif(trim({{ column }}), '') is null then null
        else {{ botsift.hex_prefix_to_bigint("sha2(concat('" ~ botsift.hash_salt() ~ "', " ~ column ~ "), 256)") }}
    end
{%- endmacro %}
