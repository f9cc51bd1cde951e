{% macro quarantine_if_duplicate(key, prior_reason, order_by, reason='duplicate_id') -%}
    {#- Quarantine rule: `reason` for every copy of `key` but one. The copy kept is the first
        of the copies that passed all other rules (prior_reason is null), ordered by
        `order_by` (a list of expressions; end it with every column so that the choice is
        deterministic), each with nulls last: engines disagree on where nulls sort by default
        (DuckDB last, Spark first in ascending order), and the copy kept must not depend on the
        engine. Copies that failed another rule keep that reason. -#}
    case
        when {{ prior_reason }} is null
            and row_number() over (
                partition by {{ key }}
                order by
                    case when {{ prior_reason }} is null then 0 else 1 end,
                    {%- for expression in order_by %}
                    {{ expression }} nulls last{{ ',' if not loop.last }}
                    {%- endfor %}
            ) > 1
            then '{{ reason }}'
    end
{%- endmacro %}
