{% macro hash_salt() -%}
    {#- The salt for hash_identifier: env var BOTSIFT_HASH_SALT, else var('hash_salt').
        Single quotes are doubled so the salt is always a safe SQL string literal. -#}
    {%- set salt = env_var('BOTSIFT_HASH_SALT', var('hash_salt')) -%}
    {{ return(salt | replace("'", "''")) }}
{%- endmacro %}
