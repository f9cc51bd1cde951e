{{
    config(
        materialized='incremental',
        unique_key=['account_id', 'as_of_date'],
        incremental_strategy=('insert_overwrite' if target.type == 'spark' else 'delete+insert'),
        partition_by=(['as_of_date'] if target.type == 'spark' else none),
        on_schema_change='fail',
    )
}}

{#- Spark (plain parquet tables, no Delta) has no delete+insert: there each as-of date is a
    partition and an incremental run overwrites the partitions it computes, which on a
    one-date-per-run refresh is the same thing. Spark puts partition columns last. -#}

{#- A dense grid (every account, every day from its creation on) is joined to the sparse
    daily activity, so trailing windows are row frames. The grid starts up to 29 days before
    the first snapshot wanted (the longest window's history) and only snapshot dates are
    kept. Counters exported at the end are rolled back to each as-of date by subtracting the
    events after it (those after the grid's end included). A full build snapshots every date
    of int_features__snapshot_dates; an incremental run the table's last date again and the
    dates after it.

    Age is measured at the profile's observation date: the earlier of as_of_date and the
    account's own export date. With event data the export closes the window, so this is
    as_of_date; in account-metadata mode (one snapshot at the latest export) an account
    exported months earlier is aged at its own export, the moment its counters were read, so
    counters per day of age stay consistent and the collection date never leaks into age. -#}

{%- set sum_metrics = [
    'count_posts', 'count_repeat_posts', 'count_reply_posts', 'count_url_posts',
    'count_mentions', 'count_night_posts', 'count_active_minutes',
    'sum_gap_seconds', 'sum_gap_seconds_sq', 'count_gaps', 'count_distinct_reached',
    'count_logins', 'count_failed_logins', 'count_co_logins',
    'count_follows_made', 'count_follows_received', 'count_mutual_formed',
    'count_interactions', 'count_likes_given',
] -%}
{#- The window carries only keys and daily metrics; profile columns (as profile_*) join the
    windowed rows afterwards. The window sorts and materializes every column it carries, so
    riding 18 profile columns through it cost more than the join: at 1M accounts x 30 days
    the model alone took 109.8 s with them in the window and 90.8 s without (same rows,
    median of 2, alternated). DuckDB builds that join's hash table on the 1M profiles. -#}
{%- set profile_columns = [
    'region', 'signup_client', 'created_date', 'exported_at',
    'count_followers', 'count_following', 'count_posts', 'count_likes', 'count_listed',
    'has_default_profile_image', 'is_verified', 'has_profile_url', 'bio_length',
    'screen_name_length', 'display_name_length', 'screen_name_digit_ratio',
    'count_signup_ip_burst_1h', 'count_signup_ip_earlier_accounts',
] -%}
{%- set packed_windows = packed_trailing_counts() -%}
{%- set counted_after = ['count_follows_received', 'count_follows_made', 'count_posts', 'count_likes_given'] -%}
{%- set observed_date = "coalesce(least(windowed.as_of_date, cast(windowed.profile_exported_at as date)), windowed.as_of_date)" -%}
{%- set age_days = dbt.datediff('windowed.profile_created_date', observed_date, 'day') -%}
{%- set followers_at = counter_at_as_of('windowed.profile_count_followers', '(coalesce(windowed.count_follows_received_after, 0) + windowed.count_follows_received_after_grid)') -%}
{%- set following_at = counter_at_as_of('windowed.profile_count_following', '(coalesce(windowed.count_follows_made_after, 0) + windowed.count_follows_made_after_grid)') -%}
{%- set posts_at = counter_at_as_of('windowed.profile_count_posts', '(coalesce(windowed.count_posts_after, 0) + windowed.count_posts_after_grid)') -%}
{%- set likes_at = counter_at_as_of('windowed.profile_count_likes', '(coalesce(windowed.count_likes_given_after, 0) + windowed.count_likes_given_after_grid)') -%}

{#- An incremental run also recomputes from the earliest snapshot whose 7-day activity
    totals or account count no longer match staging (macro feature_window_mismatches): events
    of its days, or accounts created by then, were loaded after it was computed. Found before the run (run_query), so the range is a literal;
    the scores and monitoring rows already made from those dates stay as they were. -#}
{%- set recompute_from = none -%}
{%- if execute and is_incremental() -%}
    {%- set stale = run_query('select min(as_of_date) from ('
                              ~ feature_window_mismatches(this) ~ ') as stale') -%}
    {%- set recompute_from = stale.columns[0].values()[0] if stale and stale.rows | length else none -%}
    {%- if recompute_from is not none -%}
        {{ log('fct_account_features: events or accounts loaded late: snapshots from ' ~ recompute_from
               ~ ' on are computed again (their scores and monitoring rows stay as they were)',
               info=true) }}
    {%- endif -%}
{%- endif %}

with

snapshot_dates as (

    select as_of_date from {{ ref('int_features__snapshot_dates') }}
    {% if is_incremental() %}
    {#- the table's latest date is computed again: its day may have been loaded in part (a
        mid-day load), and the rest of it arrives with the next refresh -#}
    where as_of_date >= (select max(as_of_date) from {{ this }})
    {%- if recompute_from is not none %}
        or as_of_date >= cast('{{ recompute_from }}' as date)
    {%- endif %}
    {% endif %}

),

daily_activity_bounds as (

    select min(activity_date) as first_activity_date from {{ ref('int_accounts__daily_activity') }}

),

grid_bounds as (

    select
        min(snapshot_dates.as_of_date) as first_snapshot_date,
        max(snapshot_dates.as_of_date) as last_snapshot_date,
        -- 29 days of history before the first snapshot feed its 30-day windows (from the
        -- first day with any activity on)
        case
            when min(daily_activity_bounds.first_activity_date) is null
                or min(daily_activity_bounds.first_activity_date) >= min(snapshot_dates.as_of_date)
                then min(snapshot_dates.as_of_date)
            when min(daily_activity_bounds.first_activity_date)
                > {{ dbt.dateadd('day', -29, 'min(snapshot_dates.as_of_date)') }}
                then min(daily_activity_bounds.first_activity_date)
            else cast({{ dbt.dateadd('day', -29, 'min(snapshot_dates.as_of_date)') }} as date)
        end as first_grid_date
    from snapshot_dates
    cross join daily_activity_bounds

),

grid_dates as (

    {{ date_series(
        '(select first_grid_date from grid_bounds)',
        '(select last_snapshot_date from grid_bounds)',
        'as_of_date') }}

),

profiles as {{ botsift.not_materialized() }} (

    select * from {{ ref('int_accounts__profile') }}

),

daily_activity as {{ botsift.not_materialized() }} (

    select * from {{ ref('int_accounts__daily_activity') }}

),

activity_after_grid as (

    {#- Events after the grid's last date: there are some only when `feature_as_of_date` ends
        the snapshots before the data does. Exported counters are rolled back past them too. -#}
    select
        account_id,
        {%- for m in counted_after %}
        sum({{ m }}) as {{ m }}{{ ',' if not loop.last }}
        {%- endfor %}
    from daily_activity
    where activity_date > (select last_snapshot_date from grid_bounds)
    group by account_id

),

grid_keys as (

    select
        profiles.account_id,
        cast(grid_dates.as_of_date as date) as as_of_date
    from profiles
    inner join grid_dates
        on profiles.created_date <= grid_dates.as_of_date

),

grid as (

    select
        grid_keys.account_id,
        grid_keys.as_of_date,
        {%- for m in sum_metrics %}
        cast(coalesce(daily_activity.{{ m }}, 0) as double) as {{ m }},
        {%- endfor %}
        cast(case when daily_activity.count_posts > 0 then 1 else 0 end as double) as count_posting_days,
        cast(coalesce(daily_activity.max_accounts_on_ip, 0) as double) as max_accounts_on_ip,
        cast(coalesce(daily_activity.max_accounts_on_device, 0) as double) as max_accounts_on_device
    from grid_keys
    left join daily_activity
        on grid_keys.account_id = daily_activity.account_id
        and grid_keys.as_of_date = daily_activity.activity_date

),

windowed_packed as (

    {#- Counts are summed two to an aggregate (see macros/packed_counts.sql): 17 window
        aggregates instead of 29, the same numbers. -#}
    select
        account_id,
        as_of_date,
        count_posts as count_posts_1d,
        count_active_minutes as count_active_minutes_1d,
        count_logins as count_logins_1d,
        {%- for days, pairs in packed_windows.items() %}
        {%- for low, high in pairs %}
        {{ trailing_window(pack_counts(low, high) if high else low, days) }} as packed_{{ low }}__{{ high or 'none' }}_{{ days }}d,
        {%- endfor %}
        {%- endfor %}
        {{ trailing_window('sum_gap_seconds', 30) }} as sum_gap_seconds_30d,
        {{ trailing_window('sum_gap_seconds_sq', 30) }} as sum_gap_seconds_sq_30d,
        {{ trailing_window('max_accounts_on_ip', 7, 'max') }} as max_accounts_on_ip_7d,
        {{ trailing_window('max_accounts_on_device', 7, 'max') }} as max_accounts_on_device_7d,
        {#- counts after the as-of date span the rest of the grid, any number of days: a
            packed lane could overflow there, so these are summed one by one -#}
        {%- for m in counted_after %}
        sum({{ m }}) over (
            partition by account_id order by as_of_date
            rows between 1 following and unbounded following
        ) as {{ m }}_after{{ ',' if not loop.last }}
        {%- endfor %}
    from grid

),

windowed as (

    select
        windowed_packed.*,
        {%- for c in profile_columns %}
        profiles.{{ c }} as profile_{{ c }},
        {%- endfor %}
        {%- for days, pairs in packed_windows.items() %}
        {%- set outer_loop = loop %}
        {%- for low, high in pairs %}
        {%- set packed = 'packed_' ~ low ~ '__' ~ (high or 'none') ~ '_' ~ days ~ 'd' %}
        {%- if high %}
        {{ unpack_low(packed) }} as {{ low }}_{{ days }}d,
        {{ unpack_high(packed) }} as {{ high }}_{{ days }}d{{ ',' if not (outer_loop.last and loop.last) }}
        {%- else %}
        {{ packed }} as {{ low }}_{{ days }}d{{ ',' if not (outer_loop.last and loop.last) }}
        {%- endif %}
        {%- endfor %}
        {%- endfor %},
        {%- for m in counted_after %}
        coalesce(activity_after_grid.{{ m }}, 0) as {{ m }}_after_grid{{ ',' if not loop.last }}
        {%- endfor %}
    from windowed_packed
    inner join profiles
        on windowed_packed.account_id = profiles.account_id
    left join activity_after_grid
        on windowed_packed.account_id = activity_after_grid.account_id

),

final as (

    select
        windowed.account_id,
        windowed.as_of_date,
        windowed.profile_region as region,
        case
            when {{ age_days }} < 30 then 'under_30d'
            when {{ age_days }} < 365 then '30d_to_1y'
            when {{ age_days }} < 1095 then '1y_to_3y'
            else 'over_3y'
        end as account_age_band,
        windowed.profile_signup_client as signup_client,

        -- profile and graph
        cast({{ age_days }} as double) as account_age_days,
        cast({{ followers_at }} as double) as count_followers,
        cast({{ following_at }} as double) as count_following,
        {{ safe_divide(followers_at, '1 + ' ~ following_at) }} as followers_following_ratio,
        cast({{ posts_at }} as double) as count_posts,
        cast({{ likes_at }} as double) as count_likes,
        cast(windowed.profile_count_listed as double) as count_listed,
        {{ safe_divide(posts_at, '1 + ' ~ age_days) }} as posts_per_day_of_age,
        {{ safe_divide(followers_at, '1 + ' ~ age_days) }} as followers_per_day_of_age,
        {{ safe_divide(following_at, '1 + ' ~ age_days) }} as following_per_day_of_age,
        {{ safe_divide(likes_at, '1 + ' ~ age_days) }} as likes_per_day_of_age,
        cast(windowed.profile_has_default_profile_image as double) as has_default_profile_image,
        cast(windowed.profile_is_verified as double) as is_verified,
        cast(windowed.profile_has_profile_url as double) as has_profile_url,
        cast(windowed.profile_bio_length as double) as bio_length,
        cast(windowed.profile_screen_name_length as double) as screen_name_length,
        cast(windowed.profile_display_name_length as double) as display_name_length,
        windowed.profile_screen_name_digit_ratio as screen_name_digit_ratio,
        {{ safe_divide('windowed.count_mutual_formed_30d', 'windowed.count_follows_made_30d') }} as follow_back_ratio_30d,
        cast(windowed.count_follows_made_7d as double) as count_follows_made_7d,
        cast(windowed.count_follows_made_30d as double) as count_follows_made_30d,

        -- cadence
        cast(windowed.count_posts_1d as double) as count_posts_1d,
        cast(windowed.count_posts_7d as double) as count_posts_7d,
        cast(windowed.count_posts_30d as double) as count_posts_30d,
        {{ safe_divide('windowed.count_posts_30d', 'windowed.count_posting_days_30d') }} as posts_per_active_day_30d,
        cast(windowed.count_active_minutes_1d as double) as count_active_minutes_1d,
        windowed.count_active_minutes_7d / 7.0 as active_minutes_per_day_7d,
        {{ safe_divide('windowed.count_night_posts_30d', 'windowed.count_posts_30d') }} as night_post_ratio_30d,
        {{ safe_divide(
            'sqrt(greatest(windowed.sum_gap_seconds_sq_30d / windowed.count_gaps_30d
                - (windowed.sum_gap_seconds_30d / windowed.count_gaps_30d) * (windowed.sum_gap_seconds_30d / windowed.count_gaps_30d), 0))',
            'windowed.sum_gap_seconds_30d / nullif(windowed.count_gaps_30d, 0)') }} as post_gap_cv_30d,
        cast(windowed.count_interactions_7d as double) as count_interactions_7d,

        -- content repetitiveness
        {{ safe_divide('windowed.count_repeat_posts_7d', 'windowed.count_posts_7d') }} as repeat_post_ratio_7d,
        {{ safe_divide('windowed.count_repeat_posts_30d', 'windowed.count_posts_30d') }} as repeat_post_ratio_30d,
        {{ safe_divide('windowed.count_url_posts_30d', 'windowed.count_posts_30d') }} as url_post_ratio_30d,
        {{ safe_divide('windowed.count_reply_posts_30d', 'windowed.count_posts_30d') }} as reply_post_ratio_30d,

        -- reach
        {{ safe_divide('windowed.count_mentions_30d', 'windowed.count_posts_30d') }} as mentions_per_post_30d,
        windowed.count_distinct_reached_7d / 7.0 as reached_accounts_per_day_7d,
        {{ safe_divide('windowed.count_distinct_reached_30d', 'windowed.count_posts_30d') }} as reached_accounts_per_post_30d,

        -- control
        cast(windowed.count_logins_7d as double) as count_logins_7d,
        {{ safe_divide('windowed.count_failed_logins_30d', 'windowed.count_logins_30d') }} as failed_login_ratio_30d,
        cast(windowed.max_accounts_on_ip_7d as double) as max_accounts_on_ip_7d,
        cast(windowed.max_accounts_on_device_7d as double) as max_accounts_on_device_7d,
        {{ safe_divide('windowed.count_co_logins_30d', 'windowed.count_logins_30d') }} as co_login_ratio_30d,
        cast(windowed.profile_count_signup_ip_burst_1h as double) as count_signup_ip_burst_1h,
        cast(windowed.profile_count_signup_ip_earlier_accounts as double) as count_signup_ip_earlier_accounts
    from windowed
    inner join snapshot_dates
        on windowed.as_of_date = snapshot_dates.as_of_date

)

select * from final
