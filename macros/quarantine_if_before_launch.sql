{% macro quarantine_if_before_launch(columns, reason='pre_launch_timestamp') -%}
    {#- Quarantine rule: `reason` when any of the timestamp `columns` is earlier than
        var('platform_launched_at'), that is before the platform existed. -#}
    case
        when {% for column in columns %}{{ column }} < cast('{{ var("platform_launched_at") }}' as {{ dbt.type_timestamp() }}){% if not loop.last %} or {% endif %}{% endfor %}
            then '{{ reason }}'
    end
{%- endmacro %}
