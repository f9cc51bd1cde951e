{{ botsift.score_history_config() }}

{#- The score distribution of every scored day, per model version, against that version's
    reference: the bot_probability bins training wrote to registry.feature_reference_bins
    (the scored population of the training period), or, for a version without them, deciles of
    its first scored day. Flag rates and their change since the previous and the first day.

    Incremental (score_history_config): a refresh computes the dates from
    monitoring_recompute_from() on again, every version's rows of a date together; the changes
    since the previous and the first day read the older dates' rates from the table. Every
    build used to bin the whole score history, which grows by a snapshot a day. -#}

{#- the first date this build computes, on a refresh (read once) -#}
{%- set recompute_from = botsift.monitoring_recompute_from() if is_incremental() else none -%}

{%- set deciles = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] -%}

with

fct_bot_scores as {{ botsift.not_materialized() }} (

    select * from {{ ref('fct_bot_scores') }}

),

feature_reference as (

    select * from {{ source('registry', 'feature_reference') }}

),

feature_reference_bins as (

    select * from {{ source('registry', 'feature_reference_bins') }}

),

training_reference_bins as (

    select
        model_version,
        bin_index,
        bin_kind,
        lower,
        upper,
        reference_share
    from feature_reference_bins
    where feature = 'bot_probability'

),

score_noise as (

    select
        model_version,
        psi_noise
    from feature_reference
    where feature = 'bot_probability'

),

recent_scores as {{ botsift.not_materialized() }} (

    {#- the dates this build computes (all of them on a first build) -#}
    select * from fct_bot_scores
    {%- if is_incremental() %}
    where as_of_date >= {{ recompute_from }}
    {%- endif %}

),

versions_without_bins as (

    {#- versions this build computes that training wrote no score bins for (older ones) -#}
    select distinct model_version
    from recent_scores
    where model_version not in (select model_version from training_reference_bins)

),

first_scored_dates as (

    select
        fct_bot_scores.model_version,
        min(fct_bot_scores.as_of_date) as first_as_of_date
    from fct_bot_scores
    inner join versions_without_bins
        on fct_bot_scores.model_version = versions_without_bins.model_version
    group by fct_bot_scores.model_version

),

first_day_scores as (

    select
        fct_bot_scores.model_version,
        fct_bot_scores.bot_probability
    from fct_bot_scores
    inner join first_scored_dates
        on fct_bot_scores.model_version = first_scored_dates.model_version
        and fct_bot_scores.as_of_date = first_scored_dates.first_as_of_date

),

-- versions without training reference bins fall back to deciles of their first scored day
first_day_deciles as (

    select
        model_version,
        {%- for q in deciles %}
        {{ botsift.percentile_cont('bot_probability', q) }} as q{{ loop.index }},
        {%- endfor %}
        count(*) as count_rows
    from first_day_scores
    group by model_version

),

first_day_bin_edges as (

    {%- for i in range(deciles | length + 1) %}
    select
        model_version,
        {{ i }} as bin_index,
        'regular' as bin_kind,
        {% if i == 0 %}cast(null as {{ dbt.type_float() }}){% else %}q{{ i }}{% endif %} as lower,
        {% if i == deciles | length %}cast(null as {{ dbt.type_float() }}){% else %}q{{ i + 1 }}{% endif %} as upper
    from first_day_deciles
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

first_day_bin_counts as (

    select
        first_day_bin_edges.model_version,
        first_day_bin_edges.bin_index,
        count(first_day_scores.model_version) as count_rows
    from first_day_bin_edges
    left join first_day_scores
        on first_day_scores.model_version = first_day_bin_edges.model_version
        and (first_day_bin_edges.lower is null or first_day_scores.bot_probability >= first_day_bin_edges.lower)
        and (first_day_bin_edges.upper is null or first_day_scores.bot_probability < first_day_bin_edges.upper)
    group by first_day_bin_edges.model_version, first_day_bin_edges.bin_index

),

first_day_reference_bins as (

    select
        first_day_bin_edges.model_version,
        first_day_bin_edges.bin_index,
        first_day_bin_edges.bin_kind,
        first_day_bin_edges.lower,
        first_day_bin_edges.upper,
        first_day_bin_counts.count_rows * 1.0 / first_day_deciles.count_rows as reference_share
    from first_day_bin_edges
    inner join first_day_bin_counts
        on first_day_bin_edges.model_version = first_day_bin_counts.model_version
        and first_day_bin_edges.bin_index = first_day_bin_counts.bin_index
    inner join first_day_deciles
        on first_day_bin_edges.model_version = first_day_deciles.model_version

),

reference_bins as (

    select
        *,
        'training_reference' as reference_source
    from training_reference_bins
    union all
    select
        *,
        'first_scored_day' as reference_source
    from first_day_reference_bins

),

daily_summary as (

    select
        as_of_date,
        model_version,
        deployment_status,
        count(*) as count_scored,
        avg(bot_probability) as mean_probability,
        {{ botsift.percentile_cont('bot_probability', 0.5) }} as p50_probability,
        {{ botsift.percentile_cont('bot_probability', 0.9) }} as p90_probability,
        {{ botsift.percentile_cont('bot_probability', 0.99) }} as p99_probability,
        avg(case when decision in ('review', 'action') then 1.0 else 0.0 end) as flag_rate,
        avg(case when decision = 'review' then 1.0 else 0.0 end) as review_rate,
        avg(case when decision = 'action' then 1.0 else 0.0 end) as action_rate
    from recent_scores
    group by as_of_date, model_version, deployment_status

),

binned_scores as (

    select
        recent_scores.as_of_date,
        recent_scores.model_version,
        reference_bins.bin_index,
        count(*) as count_rows
    from recent_scores
    inner join reference_bins
        on recent_scores.model_version = reference_bins.model_version
        and (
            (recent_scores.bot_probability is null and reference_bins.bin_kind = 'null')
            or (
                recent_scores.bot_probability is not null
                and reference_bins.bin_kind <> 'null'
                and (reference_bins.lower is null or recent_scores.bot_probability >= reference_bins.lower)
                and (reference_bins.upper is null or recent_scores.bot_probability < reference_bins.upper)
            )
        )
    group by recent_scores.as_of_date, recent_scores.model_version, reference_bins.bin_index

),

bin_shares as (

    select
        daily_summary.as_of_date,
        daily_summary.model_version,
        reference_bins.reference_source,
        reference_bins.reference_share,
        coalesce(binned_scores.count_rows, 0) * 1.0 / daily_summary.count_scored as current_share
    from daily_summary
    inner join reference_bins
        on daily_summary.model_version = reference_bins.model_version
    left join binned_scores
        on daily_summary.as_of_date = binned_scores.as_of_date
        and daily_summary.model_version = binned_scores.model_version
        and reference_bins.bin_index = binned_scores.bin_index

),

daily_psi as (

    select
        as_of_date,
        model_version,
        max(reference_source) as reference_source,
        sum({{ psi_bin_term('current_share', 'reference_share') }}) as score_psi
    from bin_shares
    group by as_of_date, model_version

),

rate_history as (

    {#- the dates computed now and, on a refresh, the older ones' rates as the table has them -#}
    select as_of_date, model_version, flag_rate, action_rate
    from daily_summary
    {%- if is_incremental() %}
    union all
    select as_of_date, model_version, flag_rate, action_rate
    from {{ this }}
    where as_of_date < {{ recompute_from }}
    {%- endif %}

),

rate_changes as (

    select
        as_of_date,
        model_version,
        flag_rate - lag(flag_rate) over (
            partition by model_version order by as_of_date
        ) as flag_rate_change_1d,
        flag_rate - first_value(flag_rate) over (
            partition by model_version order by as_of_date
            rows between unbounded preceding and current row
        ) as flag_rate_change_since_first,
        action_rate - first_value(action_rate) over (
            partition by model_version order by as_of_date
            rows between unbounded preceding and current row
        ) as action_rate_change_since_first
    from rate_history

),

with_changes as (

    select
        daily_summary.*,
        daily_psi.reference_source,
        daily_psi.score_psi,
        greatest(
            {{ var('score_drift_psi_threshold') }},
            {{ var('drift_noise_multiplier') }} * coalesce(score_noise.psi_noise, 0)
        ) as score_psi_threshold,
        rate_changes.flag_rate_change_1d,
        rate_changes.flag_rate_change_since_first,
        rate_changes.action_rate_change_since_first
    from daily_summary
    inner join rate_changes
        on daily_summary.as_of_date = rate_changes.as_of_date
        and daily_summary.model_version = rate_changes.model_version
    left join daily_psi
        on daily_summary.as_of_date = daily_psi.as_of_date
        and daily_summary.model_version = daily_psi.model_version
    left join score_noise
        on daily_summary.model_version = score_noise.model_version

),

final as (

    select
        as_of_date,
        model_version,
        deployment_status,
        count_scored,
        mean_probability,
        p50_probability,
        p90_probability,
        p99_probability,
        flag_rate,
        review_rate,
        action_rate,
        flag_rate_change_1d,
        flag_rate_change_since_first,
        action_rate_change_since_first,
        reference_source,
        score_psi,
        score_psi_threshold,
        coalesce(score_psi > score_psi_threshold, false) as is_score_drifted
    from with_changes

)

select * from final
