{{ botsift.score_history_config() }}

{#- Decisions in force (the active version that scored a date most recently, as in the review
    queue) per segment of region, account-age band and sign-up client, against the labelled
    accounts (var fairness_label_sources). A segment is disparate
    when its false-positive rate or flag rate over the overall rate leaves
    [fairness_min_ratio, fairness_max_ratio] and the gap to the rest of the population is not
    noise (two-proportion z-score >= fairness_min_z, and enough expected counts for the
    z-score to mean something).

    Incremental (score_history_config): a refresh computes the dates from
    monitoring_recompute_from() on again; an older date keeps the labels known when it left
    that span (labels keep arriving for the accounts of every past day, so no date is ever
    final; `--full-refresh` counts them all again). Every build used to join the whole score
    history to the features. -#}

{#- the first date this build computes, on a refresh (read once) -#}
{%- set recompute_from = botsift.monitoring_recompute_from() if is_incremental() else none -%}

{%- set segment_columns = ['region', 'account_age_band', 'signup_client'] -%}
{%- set min_ratio = var('fairness_min_ratio') -%}
{%- set max_ratio = var('fairness_max_ratio') -%}
{%- set min_z = var('fairness_min_z') -%}

with

fct_bot_scores as {{ botsift.not_materialized() }} (

    select * from {{ ref('fct_bot_scores') }}
    where deployment_status = 'active'
    {%- if is_incremental() %}
        and as_of_date >= {{ recompute_from }}
    {%- endif %}

),

fct_account_features as (

    select * from {{ ref('fct_account_features') }}
    {%- if is_incremental() %}
    where as_of_date >= {{ recompute_from }}
    {%- endif %}

),

fct_account_labels as (

    select * from {{ ref('fct_account_labels') }}
    where label_source in ({{ "'" ~ var('fairness_label_sources') | join("', '") ~ "'" }})

),

versions_in_force as (

    {{ active_versions_in_force('fct_bot_scores') }}

),

decisions as (

    select
        fct_bot_scores.as_of_date,
        fct_bot_scores.model_version,
        fct_bot_scores.account_id,
        {%- for col in segment_columns %}
        cast(fct_account_features.{{ col }} as {{ dbt.type_string() }}) as {{ col }},
        {%- endfor %}
        case when fct_bot_scores.decision in ('review', 'action') then 1 else 0 end as is_flagged,
        case when fct_bot_scores.decision = 'action' then 1 else 0 end as is_actioned,
        fct_account_labels.label
    from fct_bot_scores
    inner join versions_in_force
        on fct_bot_scores.as_of_date = versions_in_force.as_of_date
        and fct_bot_scores.model_version = versions_in_force.model_version
    inner join fct_account_features
        on fct_bot_scores.account_id = fct_account_features.account_id
        and fct_bot_scores.as_of_date = fct_account_features.as_of_date
    left join fct_account_labels
        on fct_bot_scores.account_id = fct_account_labels.account_id

),

segment_counts as (

    {%- for col in segment_columns %}
    select
        as_of_date,
        model_version,
        '{{ col }}' as segment_type,
        coalesce({{ col }}, 'unknown') as segment_value,
        count(*) as count_scored,
        sum(is_flagged) as count_flagged,
        sum(is_actioned) as count_actioned,
        sum(case when label is not null then 1 else 0 end) as count_labelled,
        sum(case when label = 0 then 1 else 0 end) as count_labelled_negatives,
        sum(case when label = 1 then 1 else 0 end) as count_labelled_positives,
        sum(case when label = 0 and is_flagged = 1 then 1 else 0 end) as count_false_positives,
        sum(case when label = 1 and is_flagged = 1 then 1 else 0 end) as count_true_positives
    from decisions
    group by as_of_date, model_version, coalesce({{ col }}, 'unknown')
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

overall_counts as (

    select
        as_of_date,
        count(*) as count_scored,
        sum(is_flagged) as count_flagged,
        sum(case when label = 0 then 1 else 0 end) as count_labelled_negatives,
        sum(case when label = 0 and is_flagged = 1 then 1 else 0 end) as count_false_positives
    from decisions
    group by as_of_date

),

rates as (

    select
        segment_counts.*,
        {{ botsift.safe_divide('segment_counts.count_flagged', 'segment_counts.count_scored') }} as flag_rate,
        {{ botsift.safe_divide('segment_counts.count_actioned', 'segment_counts.count_scored') }} as action_rate,
        {{ botsift.safe_divide('segment_counts.count_true_positives', 'segment_counts.count_true_positives + segment_counts.count_false_positives') }} as precision,
        {{ botsift.safe_divide('segment_counts.count_false_positives', 'segment_counts.count_labelled_negatives') }} as false_positive_rate,
        {{ botsift.safe_divide('overall_counts.count_flagged', 'overall_counts.count_scored') }} as overall_flag_rate,
        {{ botsift.safe_divide('overall_counts.count_false_positives', 'overall_counts.count_labelled_negatives') }} as overall_false_positive_rate,
        -- the rest of the population (everyone outside the segment), for the z-scores
        overall_counts.count_scored - segment_counts.count_scored as rest_scored,
        overall_counts.count_flagged - segment_counts.count_flagged as rest_flagged,
        overall_counts.count_labelled_negatives - segment_counts.count_labelled_negatives as rest_labelled_negatives,
        overall_counts.count_false_positives - segment_counts.count_false_positives as rest_false_positives
    from segment_counts
    inner join overall_counts
        on segment_counts.as_of_date = overall_counts.as_of_date

),

z_scores as (

    select
        *,
        {{ botsift.safe_divide('flag_rate', 'overall_flag_rate') }} as flag_rate_ratio,
        {{ botsift.safe_divide('false_positive_rate', 'overall_false_positive_rate') }} as false_positive_rate_ratio,
        -- two-proportion z-score, segment vs rest, pooled standard error
        {{ botsift.safe_divide(
            'flag_rate - ' ~ botsift.safe_divide('rest_flagged', 'rest_scored'),
            'sqrt(overall_flag_rate * (1 - overall_flag_rate) * (1.0 / count_scored + 1.0 / nullif(rest_scored, 0)))'
        ) }} as flag_rate_z,
        {{ botsift.safe_divide(
            'false_positive_rate - ' ~ botsift.safe_divide('rest_false_positives', 'rest_labelled_negatives'),
            'sqrt(overall_false_positive_rate * (1 - overall_false_positive_rate) * (1.0 / nullif(count_labelled_negatives, 0) + 1.0 / nullif(rest_labelled_negatives, 0)))'
        ) }} as false_positive_rate_z
    from rates

),

final as (

    select
        as_of_date,
        segment_type,
        segment_value,
        model_version,
        cast(count_scored as bigint) as count_scored,
        cast(count_flagged as bigint) as count_flagged,
        cast(count_actioned as bigint) as count_actioned,
        cast(count_labelled as bigint) as count_labelled,
        cast(count_labelled_positives as bigint) as count_labelled_positives,
        cast(count_labelled_negatives as bigint) as count_labelled_negatives,
        cast(count_false_positives as bigint) as count_false_positives,
        flag_rate,
        action_rate,
        precision,
        false_positive_rate,
        overall_flag_rate,
        overall_false_positive_rate,
        flag_rate_ratio,
        false_positive_rate_ratio,
        flag_rate_z,
        false_positive_rate_z,
        coalesce(
            count_labelled_negatives * overall_false_positive_rate >= {{ var('fairness_min_expected_count') }}
            and (false_positive_rate_ratio < {{ min_ratio }} or false_positive_rate_ratio > {{ max_ratio }})
            and abs(false_positive_rate_z) >= {{ min_z }},
            false
        ) as is_false_positive_rate_disparate,
        coalesce(
            count_scored * overall_flag_rate >= {{ var('fairness_min_expected_count') }}
            and (flag_rate_ratio < {{ min_ratio }} or flag_rate_ratio > {{ max_ratio }})
            and abs(flag_rate_z) >= {{ min_z }},
            false
        ) as is_flag_rate_disparate
    from z_scores

)

select
    *,
    -- the fairness flag: humans of the segment are flagged disproportionately often (a
    -- segment below parity is favoured, not harmed)
    is_false_positive_rate_disparate and false_positive_rate_ratio > 1 as is_disparate
from final
