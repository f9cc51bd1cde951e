{% macro counter_at_as_of(exported, events_after) -%}
    {#- An exported counter rolled back to as_of_date: minus the events after it, floored at 0;
        null when the export has no value (unknown is not zero). -#}
    case
        when {{ exported }} is null then null
        else greatest({{ exported }} - coalesce({{ events_after }}, 0), 0)
    end
{%- endmacro %}
