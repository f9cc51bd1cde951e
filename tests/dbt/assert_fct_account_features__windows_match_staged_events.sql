{#- Every feature snapshot against the events staging holds now (macro
    feature_window_mismatches): an incremental run recomputes from the earliest snapshot that
    missed late-loaded events, so after a build none should. A warning: new snapshots are right
    and scoring goes on. -#}
{{ config(severity='warn') }}

{%- set failing_sql = feature_window_mismatches(ref('fct_account_features')) -%}

{%- if execute and flags.WHICH in ('test', 'build') -%}
    {%- set found = run_query('select as_of_date from (' ~ failing_sql ~ ') as stale order by 1') -%}
    {%- if found and found.rows | length > 0 -%}
        {{ log('STALE feature snapshots (events loaded after they were computed): '
               ~ (found.columns[0].values() | join(', '))
               ~ '; dbt build --full-refresh --select fct_account_features computes them again',
               info=true) }}
    {%- endif -%}
{%- endif %}

{{ failing_sql }}
