-- Recompute two windowed features of the latest snapshot straight from staging events and
-- compare: a feature that saw events after as_of_date (or missed some before it) shows up here.
with

features as (

    -- the latest snapshot, which every refresh computes again: an earlier one goes stale
    -- when events of its days are loaded late, which used to fail this test (an error) and
    -- skip scoring on every later build; assert_fct_account_features__windows_match_staged_events
    -- checks every date, in aggregate, as a warning naming them
    select account_id, as_of_date, count_posts_7d, count_logins_7d
    from {{ ref('fct_account_features') }}
    where as_of_date = (select max(as_of_date) from {{ ref('fct_account_features') }})

),

sampled_accounts as (

    -- a deterministic 2% sample of accounts keeps the check cheap on large warehouses
    -- (hashed once per account, not once per feature row)
    select account_id from {{ ref('int_accounts__profile') }}
    where {{ uniform_hash('account_id', 'leak_check') }} < 0.02

),

posts as (

    -- only the sampled accounts' events feed the recount (at 1M accounts: 1.7 s instead of
    -- 4.1 s for the whole test)
    select account_id, cast(posted_at as date) as posted_date
    from {{ ref('stg_platform__posts') }}
    where account_id in (select account_id from sampled_accounts)

),

logins as (

    select account_id, cast(attempted_at as date) as attempted_date
    from {{ ref('stg_platform__logins') }}
    where account_id in (select account_id from sampled_accounts)

),

sampled_features as (

    select features.*
    from features
    inner join sampled_accounts
        on features.account_id = sampled_accounts.account_id

),

recomputed as (

    select
        sampled_features.account_id,
        sampled_features.as_of_date,
        sampled_features.count_posts_7d,
        sampled_features.count_logins_7d,
        (
            select count(*) from posts
            where posts.account_id = sampled_features.account_id
                and posts.posted_date <= sampled_features.as_of_date
                and posts.posted_date > {{ dbt.dateadd('day', -7, 'sampled_features.as_of_date') }}
        ) as expected_posts_7d,
        (
            select count(*) from logins
            where logins.account_id = sampled_features.account_id
                and logins.attempted_date <= sampled_features.as_of_date
                and logins.attempted_date > {{ dbt.dateadd('day', -7, 'sampled_features.as_of_date') }}
        ) as expected_logins_7d
    from sampled_features

)

select *
from recomputed
where count_posts_7d <> expected_posts_7d
    or count_logins_7d <> expected_logins_7d
