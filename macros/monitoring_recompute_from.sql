{% macro monitoring_recompute_from(incomplete_flag=none) -%}
    {#- For an incremental monitoring mart over the score history (inside `is_incremental()`):
        the first as_of_date a refresh computes again. Every date from
        max(monitoring_recompute_days, score_backfill_days) days before the last date the
        table holds: scoring writes nothing older than score_backfill_days before the newest
        snapshot (a new shadow version's backfill; a refresh re-scores the newest date), and
        labels and ops reviews that arrive later change the recent dates' figures. With
        `incomplete_flag` (a boolean column of the table that is true once a date's label
        window is complete), also every date whose window was still open. Older rows stay as
        they were computed; `dbt build --full-refresh` computes every date again. An empty
        table gives the first possible date (everything is computed).

        A build reads the date first and writes it into the SQL as a literal: as a scalar
        subquery, DuckDB pushed the filter below no join and into no scan's zone maps, and
        every date of history went through the joins again (at 51 scored dates a refresh of
        the four marts took 39 s with the subquery, 27 s with the literal, 80 s as a full
        rebuild; before the fct_bot_scores view was mended). A unit test (its `this` is a
        fixture, not a table) gets the subquery. -#}
    {%- set days = [var('monitoring_recompute_days'), var('score_backfill_days')] | max -%}
    {%- set bound -%}
        select cast(least(
            {{ dbt.dateadd('day', -1 * days, 'max(as_of_date)') }}
            {%- if incomplete_flag is not none %},
            coalesce(min(case when not {{ incomplete_flag }} then as_of_date end), max(as_of_date))
            {%- endif %}
        ) as date)
        from {{ this }}
    {%- endset -%}
    {%- if execute and model.resource_type == 'model' -%}
        {%- set first = run_query(bound).columns[0].values()[0] -%}
        cast('{{ first if first is not none else "1900-01-01" }}' as date)
    {%- else -%}
        coalesce(({{ bound }}), cast('1900-01-01' as date))
    {%- endif -%}
{%- endmacro %}
