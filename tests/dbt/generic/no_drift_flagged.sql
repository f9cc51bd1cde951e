{% test no_drift_flagged(model, failed_when, detail_columns, date_column='as_of_date', latest_only=true) %}
{#- Fails (warns by default: var `drift_severity`) on every row of the latest date (or of every
    date) where `failed_when` holds, and logs the features it names, so that `dbt build`
    output says which features drift. -#}
{{ config(severity=var('drift_severity', 'warn'), fail_calc='count(distinct feature)') }}

{%- set failing_sql -%}
select
    {{ date_column }} as flagged_date,
    {{ detail_columns | join(', ') }}
from {{ model }}
where ({{ failed_when }})
{%- if latest_only %}
    and {{ date_column }} = (select max({{ date_column }}) from {{ model }})
{%- endif %}
{%- endset -%}

{%- if execute and flags.WHICH in ('test', 'build') -%}
    {%- set found = run_query('select distinct flagged_date, feature from (' ~ failing_sql ~ ') as failing order by 1, 2') -%}
    {%- if found and found.rows | length > 0 -%}
        {%- set names = [] -%}
        {%- for row in found.rows -%}{%- do names.append(row[1] ~ ' (' ~ row[0] ~ ')') -%}{%- endfor -%}
        {{ log('DRIFT in ' ~ model.identifier ~ ': ' ~ (names | join(', ')), info=true) }}
    {%- endif -%}
{%- endif %}

{{ failing_sql }}
{% endtest %}
