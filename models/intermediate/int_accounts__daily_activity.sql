{{ config(materialized='table') }}

{#- Sparse daily activity: one row per account per day with any event. Each event table is
    aggregated on its own; the day keys of all of them are stacked and de-duplicated, and
    each aggregate is joined back (a narrow key union and hash joins ran twice as fast as
    stacking wide branches and re-aggregating). Every metric is additive (or, for the
    largest shared IP/device, max-able) over trailing windows in fct_account_features. Counts
    are stored as integers (cheaper to write than doubles: 8 s against 12 s for 20M rows) and
    become doubles in fct_account_features' grid, where window sums over doubles run faster
    than DuckDB's HUGEINT sums of integers; the gap sums stay doubles. -#}

{%- set branches = {
    'daily_posts': [
        'count_posts', 'count_repeat_posts', 'count_reply_posts', 'count_url_posts',
        'count_mentions', 'count_night_posts', 'count_active_minutes',
        'sum_gap_seconds', 'sum_gap_seconds_sq', 'count_gaps',
    ],
    'daily_reach': ['count_distinct_reached'],
    'daily_logins': [
        'count_logins', 'count_failed_logins', 'count_co_logins',
        'max_accounts_on_ip', 'max_accounts_on_device',
    ],
    'daily_follows_made': ['count_follows_made'],
    'daily_follows_received': ['count_follows_received'],
    'daily_mutual_formed': ['count_mutual_formed'],
    'daily_interactions': ['count_interactions', 'count_likes_given'],
} -%}

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

follow_edges as {{ botsift.not_materialized() }} (

    select * from {{ ref('int_follows__edges') }}

),

interactions as (

    select * from {{ ref('stg_platform__interactions') }}

),

daily_posts as (

    select
        account_id,
        posted_date as activity_date,
        cast(count(*) as {{ dbt.type_int() }}) as count_posts,
        cast(sum(is_repeat_30d) as {{ dbt.type_int() }}) as count_repeat_posts,
        cast(sum(is_reply) as {{ dbt.type_int() }}) as count_reply_posts,
        cast(sum(has_url) as {{ dbt.type_int() }}) as count_url_posts,
        cast(sum(count_mentions) as {{ dbt.type_int() }}) as count_mentions,
        cast(sum(is_local_night) as {{ dbt.type_int() }}) as count_night_posts,
        cast(count(distinct cast(floor(posted_epoch / 60) as bigint)) as {{ dbt.type_int() }}) as count_active_minutes,
        coalesce(sum(cast(gap_seconds as double)), 0) as sum_gap_seconds,
        coalesce(sum(cast(gap_seconds as double) * cast(gap_seconds as double)), 0) as sum_gap_seconds_sq,
        cast(count(gap_seconds) as {{ dbt.type_int() }}) as count_gaps
    from posts
    group by account_id, posted_date

),

daily_reach as (

    select
        account_id,
        activity_date,
        cast(count_distinct_reached as {{ dbt.type_int() }}) as count_distinct_reached
    from reach

),

daily_logins as (

    select
        account_id,
        attempted_date as activity_date,
        cast(count(*) as {{ dbt.type_int() }}) as count_logins,
        cast(sum(case when is_success then 0 else 1 end) as {{ dbt.type_int() }}) as count_failed_logins,
        cast(sum(has_co_login_10m) as {{ dbt.type_int() }}) as count_co_logins,
        cast(max(count_accounts_on_ip) as {{ dbt.type_int() }}) as max_accounts_on_ip,
        cast(max(count_accounts_on_device) as {{ dbt.type_int() }}) as max_accounts_on_device
    from logins
    group by account_id, attempted_date

),

daily_follows_made as (

    select
        follower_account_id as account_id,
        followed_date as activity_date,
        cast(count(*) as {{ dbt.type_int() }}) as count_follows_made
    from follow_edges
    group by follower_account_id, followed_date

),

daily_follows_received as (

    select
        followee_account_id as account_id,
        followed_date as activity_date,
        cast(count(*) as {{ dbt.type_int() }}) as count_follows_received
    from follow_edges
    group by followee_account_id, followed_date

),

daily_mutual_formed as (

    select
        follower_account_id as account_id,
        cast(mutual_at as date) as activity_date,
        cast(count(*) as {{ dbt.type_int() }}) as count_mutual_formed
    from follow_edges
    where mutual_at is not null
    group by follower_account_id, cast(mutual_at as date)

),

daily_interactions as (

    select
        account_id,
        cast(interacted_at as date) as activity_date,
        cast(count(*) as {{ dbt.type_int() }}) as count_interactions,
        cast(sum(case when interaction_action = 'like' then 1 else 0 end) as {{ dbt.type_int() }}) as count_likes_given
    from interactions
    group by account_id, cast(interacted_at as date)

),

activity_days as (

    {% for branch in branches %}
    select account_id, activity_date from {{ branch }}
    {% if not loop.last %}union{% endif %}
    {% endfor %}

),

final as (

    select
        activity_days.account_id,
        activity_days.activity_date,
        {%- for branch, metrics in branches.items() %}
        {%- set outer_loop = loop %}
        {%- for m in metrics %}
        coalesce({{ branch }}.{{ m }}, 0) as {{ m }}{{ ',' if not (outer_loop.last and loop.last) }}
        {%- endfor %}
        {%- endfor %}
    from activity_days
    {%- for branch in branches %}
    left join {{ branch }}
        on activity_days.account_id = {{ branch }}.account_id
        and activity_days.activity_date = {{ branch }}.activity_date
    {%- endfor %}

)

select * from final
