{{ botsift.score_history_config('is_window_complete') }}

{#- A shadow version next to the active version in force, on every date both scored: what
    would have happened had each one's action decisions been enforced on that snapshot.
    Blocked = decision 'action'. Spam fraction: the share of the posts made in the
    var shadow_outcome_window_days after the snapshot that came from blocked accounts (posts
    an enforced block would have prevented); blocked posts per active account normalizes the
    same count by the accounts that posted in the window. Ops reviews saved: blocked accounts
    that would otherwise have gone to a human review, times var minutes_per_review. Wrongly
    blocked: blocked accounts whose ground-truth label (var monitoring_label_sources) is 0.
    Estimated spam fraction: the spam fraction times the share of the version's labelled
    blocked accounts that are bots (its labelled block precision; 1 when it blocks no labelled
    account), so the posts of humans a version would block are not counted as spam
    prevented. The recommendation compares estimated spam fractions.

    Incremental (score_history_config): a refresh computes the dates from
    monitoring_recompute_from() on again (deleted first: a date whose comparison a promotion's
    re-scoring removed keeps no old row), and every older date whose post window was not
    complete yet; older rows keep the labels known when they left that span (`--full-refresh`
    counts them all again). -#}

{#- the first date this build computes, on a refresh (read once) -#}
{%- set recompute_from = botsift.monitoring_recompute_from('is_window_complete') if is_incremental() else none -%}

{%- set window_days = var('shadow_outcome_window_days') -%}
{%- set minutes = var('minutes_per_review') -%}

with

fct_bot_scores as {{ botsift.not_materialized() }} (

    select * from {{ ref('fct_bot_scores') }}
    {%- if is_incremental() %}
    where as_of_date >= {{ recompute_from }}
    {%- endif %}

),

stg_platform__posts as (

    select * from {{ ref('stg_platform__posts') }}
    {%- if is_incremental() %}
    -- the post windows of the dates computed again start after the first of them
    where posted_at >= {{ recompute_from }}
    {%- endif %}

),

fct_account_labels as (

    select * from {{ ref('fct_account_labels') }}
    where label_source in ({{ "'" ~ var('monitoring_label_sources') | join("', '") ~ "'" }})

),

fct_account_features as (

    select * from {{ ref('fct_account_features') }}

),

model_versions as (

    select * from {{ source('registry', 'model_versions') }}
    where segment = 'global'

),

data_bounds as (

    select max(as_of_date) as last_as_of_date
    from fct_account_features

),

active_in_force as (

    {{ active_versions_in_force('fct_bot_scores') }}

),

shadow_versions as (

    select distinct
        as_of_date,
        model_version
    from fct_bot_scores
    where deployment_status = 'shadow'

),

comparisons as (

    select
        shadow_versions.as_of_date,
        active_in_force.model_version as active_model_version,
        shadow_versions.model_version as shadow_model_version
    from shadow_versions
    inner join active_in_force
        on shadow_versions.as_of_date = active_in_force.as_of_date

),

window_posts as (

    select
        comparisons.as_of_date,
        comparisons.shadow_model_version,
        stg_platform__posts.account_id,
        count(*) as count_posts
    from comparisons
    inner join stg_platform__posts
        on stg_platform__posts.posted_at >= {{ dbt.dateadd('day', 1, 'comparisons.as_of_date') }}
        and stg_platform__posts.posted_at < {{ dbt.dateadd('day', window_days + 1, 'comparisons.as_of_date') }}
    group by comparisons.as_of_date, comparisons.shadow_model_version, stg_platform__posts.account_id

),

paired_decisions as (

    select
        comparisons.as_of_date,
        comparisons.active_model_version,
        comparisons.shadow_model_version,
        active_scores.account_id,
        case when active_scores.decision = 'action' then 1 else 0 end as is_active_blocked,
        case when active_scores.decision = 'review' then 1 else 0 end as is_active_review,
        case when shadow_scores.decision = 'action' then 1 else 0 end as is_shadow_blocked,
        case when shadow_scores.decision = 'review' then 1 else 0 end as is_shadow_review,
        coalesce(window_posts.count_posts, 0) as count_window_posts,
        fct_account_labels.label
    from comparisons
    inner join fct_bot_scores as active_scores
        on active_scores.as_of_date = comparisons.as_of_date
        and active_scores.model_version = comparisons.active_model_version
    inner join fct_bot_scores as shadow_scores
        on shadow_scores.as_of_date = comparisons.as_of_date
        and shadow_scores.model_version = comparisons.shadow_model_version
        and shadow_scores.account_id = active_scores.account_id
    left join window_posts
        on window_posts.as_of_date = comparisons.as_of_date
        and window_posts.shadow_model_version = comparisons.shadow_model_version
        and window_posts.account_id = active_scores.account_id
    left join fct_account_labels
        on fct_account_labels.account_id = active_scores.account_id

),

daily_outcomes as (

    select
        as_of_date,
        active_model_version,
        shadow_model_version,
        count(*) as count_accounts,
        sum(count_window_posts) as count_window_posts,
        sum(case when count_window_posts > 0 then 1 else 0 end) as count_window_active_accounts,
        {%- for side in ['active', 'shadow'] %}
        sum(is_{{ side }}_blocked) as {{ side }}_count_blocked,
        sum(is_{{ side }}_review) as {{ side }}_count_review,
        sum(is_{{ side }}_blocked * count_window_posts) as {{ side }}_blocked_posts,
        sum(case when label = 0 then is_{{ side }}_blocked else 0 end) as {{ side }}_wrongly_blocked,
        sum(case when label = 1 then is_{{ side }}_blocked else 0 end) as {{ side }}_confirmed_bots_blocked,
        {%- endfor %}
        sum(case when label = 0 then 1 else 0 end) as count_labelled_clean
    from paired_decisions
    group by as_of_date, active_model_version, shadow_model_version

),

measured as (

    select
        daily_outcomes.*,
        {%- for side in ['active', 'shadow'] %}
        {{ botsift.safe_divide(side ~ '_blocked_posts', 'count_window_posts') }} as {{ side }}_spam_fraction,
        {{ botsift.safe_divide(side ~ '_blocked_posts', 'count_window_active_accounts') }} as {{ side }}_blocked_posts_per_active_account,
        {{ side }}_count_blocked * {{ minutes }} as {{ side }}_ops_minutes_saved,
        {{ side }}_count_review * {{ minutes }} as {{ side }}_review_queue_minutes,
        {{ botsift.safe_divide(side ~ '_confirmed_bots_blocked', side ~ '_confirmed_bots_blocked + ' ~ side ~ '_wrongly_blocked') }} as {{ side }}_labelled_block_precision,
        {%- endfor %}
        {{ dbt.dateadd('day', window_days, 'daily_outcomes.as_of_date') }} <= data_bounds.last_as_of_date as is_window_complete,
        cast({{ botsift.json_extract_string('model_versions.card', '$.training_snapshot') }} as date) as shadow_training_snapshot
    from daily_outcomes
    cross join data_bounds
    left join model_versions
        on daily_outcomes.shadow_model_version = model_versions.model_version

),

compared as (

    select
        *,
        shadow_spam_fraction - active_spam_fraction as spam_fraction_gain,
        {%- for side in ['active', 'shadow'] %}
        {{ side }}_spam_fraction * coalesce({{ side }}_labelled_block_precision, 1.0) as {{ side }}_estimated_spam_fraction,
        {%- endfor %}
        shadow_wrongly_blocked - active_wrongly_blocked as extra_wrongly_blocked,
        shadow_ops_minutes_saved - active_ops_minutes_saved as extra_ops_minutes_saved,
        coalesce(as_of_date > shadow_training_snapshot, false) as is_after_shadow_training
    from measured

),

estimated as (

    select
        *,
        shadow_estimated_spam_fraction - active_estimated_spam_fraction as estimated_spam_fraction_gain
    from compared

),

final as (

    select
        as_of_date,
        shadow_model_version,
        active_model_version,
        cast(count_accounts as bigint) as count_accounts,
        cast(count_labelled_clean as bigint) as count_labelled_clean,
        cast(count_window_posts as bigint) as count_window_posts,
        cast(count_window_active_accounts as bigint) as count_window_active_accounts,
        cast(active_count_blocked as bigint) as active_count_blocked,
        cast(shadow_count_blocked as bigint) as shadow_count_blocked,
        cast(active_count_review as bigint) as active_count_review,
        cast(shadow_count_review as bigint) as shadow_count_review,
        active_spam_fraction,
        shadow_spam_fraction,
        spam_fraction_gain,
        active_blocked_posts_per_active_account,
        shadow_blocked_posts_per_active_account,
        cast(active_ops_minutes_saved as bigint) as active_ops_minutes_saved,
        cast(shadow_ops_minutes_saved as bigint) as shadow_ops_minutes_saved,
        cast(extra_ops_minutes_saved as bigint) as extra_ops_minutes_saved,
        cast(active_review_queue_minutes as bigint) as active_review_queue_minutes,
        cast(shadow_review_queue_minutes as bigint) as shadow_review_queue_minutes,
        cast(active_wrongly_blocked as bigint) as active_wrongly_blocked,
        cast(shadow_wrongly_blocked as bigint) as shadow_wrongly_blocked,
        cast(extra_wrongly_blocked as bigint) as extra_wrongly_blocked,
        cast(active_confirmed_bots_blocked as bigint) as active_confirmed_bots_blocked,
        cast(shadow_confirmed_bots_blocked as bigint) as shadow_confirmed_bots_blocked,
        active_labelled_block_precision,
        shadow_labelled_block_precision,
        active_estimated_spam_fraction,
        shadow_estimated_spam_fraction,
        estimated_spam_fraction_gain,
        shadow_training_snapshot,
        is_after_shadow_training,
        is_window_complete,
        case
            when not is_window_complete or count_window_posts = 0 then 'insufficient_data'
            when estimated_spam_fraction_gain >= {{ var('shadow_min_spam_fraction_gain') }}
                and extra_wrongly_blocked <= {{ var('shadow_max_extra_wrongly_blocked') }}
                and (estimated_spam_fraction_gain > 0 or extra_wrongly_blocked < 0)
                then 'promote'
            else 'do_not_promote'
        end as recommendation
    from estimated

)

select * from final
