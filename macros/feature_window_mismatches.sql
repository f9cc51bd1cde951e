{% macro feature_window_mismatches(features) %}
{#- The as-of dates of `features` (fct_account_features, or the model's own `this` before an
    incremental run) whose 7-day post, login, follow and interaction counts, summed over all
    their accounts, differ from the events staging holds for those 7 days by accounts created
    by then, or whose number of accounts differs from the staged accounts created by then:
    snapshots computed before events of their days, or accounts created on or before them,
    were loaded (an account record backfilled with a past creation date had no row in the
    older snapshots, and its labels none to join). A clean table matches exactly (the
    features are window sums of the same daily activity, one row per account created by
    the date). Dates of the snapshot window (int_features__snapshot_dates) only. -#}
with

feature_totals as (

    select
        as_of_date,
        sum(count_posts_7d) as posts_7d,
        sum(count_logins_7d) as logins_7d,
        sum(count_follows_made_7d) as follows_made_7d,
        sum(count_interactions_7d) as interactions_7d,
        count(*) as accounts
    from {{ features }}
    -- the snapshot window only: an older date a full build would drop is never recomputed
    where as_of_date in (select as_of_date from {{ ref('int_features__snapshot_dates') }})
    group by as_of_date

),

daily_totals as (

    select
        daily.activity_date,
        profile.created_date,
        sum(daily.count_posts) as posts,
        sum(daily.count_logins) as logins,
        sum(daily.count_follows_made) as follows_made,
        sum(daily.count_interactions) as interactions
    from {{ ref('int_accounts__daily_activity') }} as daily
    inner join {{ ref('int_accounts__profile') }} as profile
        on daily.account_id = profile.account_id
    group by daily.activity_date, profile.created_date

),

accounts_by_created_date as (

    select
        created_date,
        count(*) as accounts
    from {{ ref('int_accounts__profile') }}
    group by created_date

),

staged_accounts as (

    select
        feature_totals.as_of_date,
        coalesce(sum(accounts_by_created_date.accounts), 0) as accounts
    from feature_totals
    left join accounts_by_created_date
        on accounts_by_created_date.created_date <= feature_totals.as_of_date
    group by feature_totals.as_of_date

),

staged_totals as (

    select
        feature_totals.as_of_date,
        coalesce(sum(daily_totals.posts), 0) as posts_7d,
        coalesce(sum(daily_totals.logins), 0) as logins_7d,
        coalesce(sum(daily_totals.follows_made), 0) as follows_made_7d,
        coalesce(sum(daily_totals.interactions), 0) as interactions_7d
    from feature_totals
    left join daily_totals
        on daily_totals.activity_date <= feature_totals.as_of_date
        and daily_totals.activity_date > {{ dbt.dateadd('day', -7, 'feature_totals.as_of_date') }}
        and daily_totals.created_date <= feature_totals.as_of_date
    group by feature_totals.as_of_date

)

select
    feature_totals.as_of_date,
    feature_totals.posts_7d,
    staged_totals.posts_7d as staged_posts_7d,
    feature_totals.logins_7d,
    staged_totals.logins_7d as staged_logins_7d,
    feature_totals.follows_made_7d,
    staged_totals.follows_made_7d as staged_follows_made_7d,
    feature_totals.interactions_7d,
    staged_totals.interactions_7d as staged_interactions_7d,
    feature_totals.accounts,
    staged_accounts.accounts as staged_accounts
from feature_totals
inner join staged_totals
    on feature_totals.as_of_date = staged_totals.as_of_date
inner join staged_accounts
    on feature_totals.as_of_date = staged_accounts.as_of_date
where feature_totals.posts_7d <> staged_totals.posts_7d
    or feature_totals.logins_7d <> staged_totals.logins_7d
    or feature_totals.follows_made_7d <> staged_totals.follows_made_7d
    or feature_totals.interactions_7d <> staged_totals.interactions_7d
    or feature_totals.accounts <> staged_accounts.accounts
{% endmacro %}
