{{ botsift.score_history_config('is_window_complete') }}

{#- Each scored day judged by the ops decisions that arrived after it: an account whose ops
    label (var performance_label_sources) has label_at within var
    performance_label_window_days after the end of as_of_date counts with that day's score.
    Precision and recall at the action and flag (review or action) decisions, average
    precision (a PR AUC estimate, as scikit-learn computes it: tied scores share one
    threshold) and the Brier score; a day's window is complete once both the features and
    the ops reviews reach its end.

    Incremental (score_history_config): a refresh computes the dates from
    monitoring_recompute_from() on again, and every older date whose window was not complete
    yet; a complete window's row stays. -#}

{#- the first date this build computes, on a refresh (read once) -#}
{%- set recompute_from = botsift.monitoring_recompute_from('is_window_complete') if is_incremental() else none -%}

{%- set window_days = var('performance_label_window_days') -%}

with

fct_bot_scores as {{ botsift.not_materialized() }} (

    select * from {{ ref('fct_bot_scores') }}
    {%- if is_incremental() %}
    where as_of_date >= {{ recompute_from }}
    {%- endif %}

),

fct_account_labels as (

    select * from {{ ref('fct_account_labels') }}
    where label_source in ({{ "'" ~ var('performance_label_sources') | join("', '") ~ "'" }})

),

fct_account_features as (

    select * from {{ ref('fct_account_features') }}

),

stg_ops__reviews as (

    select * from {{ ref('stg_ops__reviews') }}

),

feature_bounds as (

    select max(as_of_date) as last_feature_date
    from fct_account_features

),

review_bounds as (

    select max(cast(reviewed_at as date)) as last_review_date
    from stg_ops__reviews

),

data_bounds as (

    {#- A day's label window is complete once the features and the ops reviews both reach its
        end: reviews load on their own schedule, and a day judged before they arrived counts
        too few labels. No reviews at all: the features' bound (there is nothing to judge). -#}
    select coalesce(least(last_feature_date, last_review_date), last_feature_date) as last_as_of_date
    from feature_bounds
    cross join review_bounds

),

judged_scores as (

    select
        fct_bot_scores.as_of_date,
        fct_bot_scores.model_version,
        fct_bot_scores.deployment_status,
        fct_bot_scores.account_id,
        fct_bot_scores.bot_probability,
        case when fct_bot_scores.decision = 'action' then 1 else 0 end as is_actioned,
        case when fct_bot_scores.decision in ('review', 'action') then 1 else 0 end as is_flagged,
        fct_account_labels.label
    from fct_bot_scores
    inner join fct_account_labels
        on fct_bot_scores.account_id = fct_account_labels.account_id
        and fct_account_labels.label_at >= {{ dbt.dateadd('day', 1, 'fct_bot_scores.as_of_date') }}
        and fct_account_labels.label_at < {{ dbt.dateadd('day', window_days + 1, 'fct_bot_scores.as_of_date') }}

),

ranked_scores as (

    {#- Precision at each positive's score counts every account scored at or above it, ties
        included (a range window), which is scikit-learn's average_precision_score: the
        precision at each distinct score, weighted by the recall it adds. Ordering ties by
        account_id instead made the figure depend on ids wherever a tree leaf gives many
        accounts the same score. -#}
    select
        *,
        sum(label) over (
            partition by as_of_date, model_version
            order by bot_probability desc
            range between unbounded preceding and current row
        ) as count_positives_at_or_above,
        count(*) over (
            partition by as_of_date, model_version
            order by bot_probability desc
            range between unbounded preceding and current row
        ) as count_scored_at_or_above
    from judged_scores

),

daily_metrics as (

    select
        as_of_date,
        model_version,
        max(deployment_status) as deployment_status,
        count(*) as count_labels,
        sum(label) as count_positive_labels,
        sum(is_actioned) as count_actioned,
        sum(is_flagged) as count_flagged,
        sum(label * is_actioned) as count_true_positives_action,
        sum(label * is_flagged) as count_true_positives_flag,
        sum((1 - label) * is_flagged) as count_false_positives_flag,
        sum(case when label = 1 then count_positives_at_or_above * 1.0 / count_scored_at_or_above else 0 end) as sum_precision_at_positives,
        avg(case when label = 1 then bot_probability end) as mean_probability_positives,
        avg(case when label = 0 then bot_probability end) as mean_probability_negatives,
        avg((bot_probability - label) * (bot_probability - label)) as brier_score
    from ranked_scores
    group by as_of_date, model_version

),

final as (

    select
        daily_metrics.as_of_date,
        daily_metrics.model_version,
        daily_metrics.deployment_status,
        cast(daily_metrics.count_labels as bigint) as count_labels,
        cast(daily_metrics.count_positive_labels as bigint) as count_positive_labels,
        {{ botsift.safe_divide('count_true_positives_action', 'count_actioned') }} as precision_at_action,
        {{ botsift.safe_divide('count_true_positives_action', 'count_positive_labels') }} as recall_at_action,
        {{ botsift.safe_divide('count_true_positives_flag', 'count_flagged') }} as precision_at_flag,
        {{ botsift.safe_divide('count_true_positives_flag', 'count_positive_labels') }} as recall_at_flag,
        {{ botsift.safe_divide('count_false_positives_flag', 'count_labels - count_positive_labels') }} as false_positive_rate_at_flag,
        {{ botsift.safe_divide('sum_precision_at_positives', 'count_positive_labels') }} as average_precision,
        daily_metrics.mean_probability_positives,
        daily_metrics.mean_probability_negatives,
        daily_metrics.brier_score,
        {{ dbt.dateadd('day', window_days, 'daily_metrics.as_of_date') }} <= data_bounds.last_as_of_date as is_window_complete
    from daily_metrics
    cross join data_bounds

)

select * from final
