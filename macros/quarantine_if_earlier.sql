{% macro quarantine_if_earlier(column, bound, reason) -%}
    {#- Quarantine rule: `reason` when timestamp `column` is earlier than timestamp `bound` (an
        event before its account was created, an account exported before it was created);
        a null on either side breaks no rule here. -#}
    case
        when {{ column }} < {{ bound }}
            then '{{ reason }}'
    end
{%- endmacro %}
