{{ config(materialized='table') }}

{#- Sparse daily activity: one row per account per day with any event. Each event table is
    aggregated on its own and the branches are stacked, then summed (max for the "largest
    shared IP/device" measures), so every metric is additive or max-able over trailing
    windows in fct_account_features. -#}

{%- set sum_metrics = [
    'count_posts', 'count_repeat_posts', 'count_reply_posts', 'count_url_posts',
    'count_mentions', 'count_night_posts', 'count_active_minutes',
    'sum_gap_seconds', 'sum_gap_seconds_sq', 'count_gaps', 'count_distinct_reached',
    'count_logins', 'count_failed_logins', 'count_co_logins',
    'count_follows_made', 'count_follows_received', 'count_mutual_formed',
    'count_interactions', 'count_likes_given',
] -%}
{%- set max_metrics = ['max_accounts_on_ip', 'max_accounts_on_device'] -%}

{%- set all_metrics = sum_metrics + max_metrics -%}
with

posts as (

    select * from {{ ref('int_posts__normalized') }}

),

reach as (

    select * from {{ ref('int_posts__reach') }}

),

logins as (

    select * from {{ ref('int_logins__shared_access') }}

),

follow_edges as (

    select * from {{ ref('int_follows__edges') }}

),

interactions as (

    select * from {{ ref('stg_platform__interactions') }}

),

daily_posts as (

    select
        account_id,
        posted_date as activity_date,
        {{ metric_columns({
            'count_posts': 'count(*)',
            'count_repeat_posts': 'sum(is_repeat_30d)',
            'count_reply_posts': 'sum(is_reply)',
            'count_url_posts': 'sum(has_url)',
            'count_mentions': 'sum(count_mentions)',
            'count_night_posts': 'sum(is_local_night)',
            'count_active_minutes': 'count(distinct cast(floor(posted_epoch / 60) as bigint))',
            'sum_gap_seconds': 'coalesce(sum(cast(gap_seconds as double)), 0)',
            'sum_gap_seconds_sq': 'coalesce(sum(cast(gap_seconds as double) * cast(gap_seconds as double)), 0)',
            'count_gaps': 'count(gap_seconds)',
        }, all_metrics) }}
    from posts
    group by account_id, posted_date

),

daily_reach as (

    select
        account_id,
        activity_date,
        {{ metric_columns({'count_distinct_reached': 'count_distinct_reached'}, all_metrics) }}
    from reach

),

daily_logins as (

    select
        account_id,
        attempted_date as activity_date,
        {{ metric_columns({
            'count_logins': 'count(*)',
            'count_failed_logins': 'sum(case when is_success then 0 else 1 end)',
            'count_co_logins': 'sum(has_co_login_10m)',
            'max_accounts_on_ip': 'max(count_accounts_on_ip)',
            'max_accounts_on_device': 'max(count_accounts_on_device)',
        }, all_metrics) }}
    from logins
    group by account_id, attempted_date

),

daily_follows_made as (

    select
        follower_account_id as account_id,
        followed_date as activity_date,
        {{ metric_columns({'count_follows_made': 'count(*)'}, all_metrics) }}
    from follow_edges
    group by follower_account_id, followed_date

),

daily_follows_received as (

    select
        followee_account_id as account_id,
        followed_date as activity_date,
        {{ metric_columns({'count_follows_received': 'count(*)'}, all_metrics) }}
    from follow_edges
    group by followee_account_id, followed_date

),

daily_mutual_formed as (

    select
        follower_account_id as account_id,
        cast(mutual_at as date) as activity_date,
        {{ metric_columns({'count_mutual_formed': 'count(*)'}, all_metrics) }}
    from follow_edges
    where mutual_at is not null
    group by follower_account_id, cast(mutual_at as date)

),

daily_interactions as (

    select
        account_id,
        cast(interacted_at as date) as activity_date,
        {{ metric_columns({
            'count_interactions': 'count(*)',
            'count_likes_given': "sum(case when interaction_action = 'like' then 1 else 0 end)",
        }, all_metrics) }}
    from interactions
    group by account_id, cast(interacted_at as date)

),

stacked as (

    select * from daily_posts
    union all
    select * from daily_reach
    union all
    select * from daily_logins
    union all
    select * from daily_follows_made
    union all
    select * from daily_follows_received
    union all
    select * from daily_mutual_formed
    union all
    select * from daily_interactions

),

final as (

    select
        account_id,
        activity_date,
        {#- doubles, not the HUGEINT that sum() of BIGINT gives: trailing windows over
            doubles run about twice as fast -#}
        {%- for m in sum_metrics %}
        cast(sum({{ m }}) as double) as {{ m }},
        {%- endfor %}
        {%- for m in max_metrics %}
        cast(max({{ m }}) as double) as {{ m }}{{ ',' if not loop.last }}
        {%- endfor %}
    from stacked
    group by account_id, activity_date

)

select * from final
