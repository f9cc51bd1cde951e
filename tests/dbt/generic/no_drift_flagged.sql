{% test no_drift_flagged(model, failed_when, detail_columns, date_column='as_of_date', latest_only=true) %}
{#- Fails (warns by default: var `drift_severity`) on every row where `failed_when` holds, and
    logs the features it names, so that `dbt build` output says which features drift.

    With `latest_only` (the default) it tests the dates this refresh brought: the latest date,
    and every date the latest scoring run of `ml_bot_scores` scored (one `scored_at` per run),
    so a build that catches up on skipped refreshes tests each day it adds, not only the last.
    Earlier dates stay in the mart for BI without failing every later build. The ref orders
    this test after scoring in a `dbt build`; a warehouse never scored tests the latest date. -#}
{{ config(severity=var('drift_severity', 'warn'), fail_calc='count(distinct feature)') }}

{%- set scores = ref('ml_bot_scores') -%}
{%- set scored = execute and adapter.get_relation(
        database=scores.database, schema=scores.schema, identifier=scores.identifier) is not none -%}
{#- The ref makes this test a child of ml_bot_scores, so `--selector scoring` (ml_bot_scores+)
    selects it too: on a warehouse whose monitoring marts were never built it has nothing to
    test, rather than an error. -#}
{%- set built = not execute or adapter.get_relation(
        database=model.database, schema=model.schema, identifier=model.identifier) is not none -%}

{%- set failing_sql -%}
{%- if not built %}
select null as flagged_date, {% for c in detail_columns %}null as {{ c }}{{ ', ' if not loop.last }}{% endfor %} where false
{%- else %}
select
    {{ date_column }} as flagged_date,
    {{ detail_columns | join(', ') }}
from {{ model }}
where ({{ failed_when }})
{%- if latest_only %}
    and (
        {{ date_column }} = (select max({{ date_column }}) from {{ model }})
    {%- if scored %}
        or {{ date_column }} in (
            select distinct as_of_date
            from {{ scores }}
            where scored_at = (select max(scored_at) from {{ scores }})
        )
    {%- endif %}
    )
{%- endif %}
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
