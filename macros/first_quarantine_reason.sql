{% macro first_quarantine_reason(rules) -%}
    {#- Combine quarantine rule expressions: the first non-null reason in list order wins,
        null when the row passes every rule. -#}
    coalesce(
        {% for rule in rules -%}
            {{ rule }},
        {% endfor -%}
        cast(null as {{ dbt.type_string() }})
    )
{%- endmacro %}
