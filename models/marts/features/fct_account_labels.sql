{{ config(materialized='table') }}

{#- Label sources, strongest first: ops decisions (latest review per account, its evidence
    dated by the first of the consecutive reviews that reached the same verdict), verified
    accounts, weak positives by shared infrastructure with a confirmed bot, and a random
    sample of never-flagged accounts. Each label keeps when its evidence existed
    (label_at) and the feature snapshot it may be joined to: the day before the evidence
    for event-driven labels, so no example sees its own review. -#}

with

reviews as {{ botsift.not_materialized() }} (

    select * from {{ ref('stg_ops__reviews') }}

),

profiles as {{ botsift.not_materialized() }} (

    select * from {{ ref('int_accounts__profile') }}

),

identifier_links as {{ botsift.not_materialized() }} (

    select * from {{ ref('int_accounts__identifier_links') }}
    where count_accounts_sharing between 2 and {{ var('max_accounts_per_identifier') }}

),

snapshot_dates as (

    select * from {{ ref('int_features__snapshot_dates') }}

),

snapshot_bounds as (

    select
        min(as_of_date) as first_as_of_date,
        max(as_of_date) as last_as_of_date,
        count(*) as count_snapshot_dates
    from snapshot_dates

),

ranked_reviews as (

    select
        account_id,
        reviewed_at,
        case
            when review_decision in ({{ "'" ~ var('positive_review_decisions') | join("', '") ~ "'" }}) then 1
            when review_decision in ({{ "'" ~ var('negative_review_decisions') | join("', '") ~ "'" }}) then 0
        end as review_label,
        row_number() over (partition by account_id order by reviewed_at desc, review_id desc) as review_rank
    from reviews

),

latest_verdicts as (

    select
        account_id,
        review_label as label
    from ranked_reviews
    where review_rank = 1
        and review_label is not null

),

verdict_changes as (

    -- the most recent review (counting back from the latest) whose verdict differs from the
    -- latest one: a review without a label (warned) counts as a different verdict
    select
        ranked_reviews.account_id,
        min(ranked_reviews.review_rank) as first_other_rank
    from ranked_reviews
    inner join latest_verdicts
        on ranked_reviews.account_id = latest_verdicts.account_id
    where coalesce(ranked_reviews.review_label, -1) <> latest_verdicts.label
    group by ranked_reviews.account_id

),

ops_labels as (

    -- the latest verdict's evidence existed from the first review of the unbroken run of
    -- reviews that reached it: a repeated suspension is not new evidence, and a snapshot
    -- between the two reviews would be taken after the account was already judged
    select
        latest_verdicts.account_id,
        latest_verdicts.label,
        case when latest_verdicts.label = 1 then 'ops_suspended' else 'ops_cleared' end as label_source,
        min(ranked_reviews.reviewed_at) as label_at
    from latest_verdicts
    inner join ranked_reviews
        on latest_verdicts.account_id = ranked_reviews.account_id
    left join verdict_changes
        on latest_verdicts.account_id = verdict_changes.account_id
    where verdict_changes.first_other_rank is null
        or ranked_reviews.review_rank < verdict_changes.first_other_rank
    group by latest_verdicts.account_id, latest_verdicts.label

),

reviewed_accounts as (

    select distinct account_id from reviews

),

confirmed_bot_identifiers as (

    select
        identifier_links.identifier_type,
        identifier_links.identifier_hash,
        ops_labels.account_id as bot_account_id,
        ops_labels.label_at
    from identifier_links
    inner join ops_labels
        on identifier_links.account_id = ops_labels.account_id
    where ops_labels.label = 1

),

expansion_candidates as (

    select
        identifier_links.account_id,
        confirmed_bot_identifiers.bot_account_id,
        max(confirmed_bot_identifiers.label_at) as label_at,
        count(*) as count_shared_identifiers
    from identifier_links
    inner join confirmed_bot_identifiers
        on identifier_links.identifier_type = confirmed_bot_identifiers.identifier_type
        and identifier_links.identifier_hash = confirmed_bot_identifiers.identifier_hash
        and identifier_links.first_used_at <= confirmed_bot_identifiers.label_at
    where identifier_links.account_id <> confirmed_bot_identifiers.bot_account_id
    group by identifier_links.account_id, confirmed_bot_identifiers.bot_account_id

),

expansion_labels as (

    select
        account_id,
        1 as label,
        'shared_infrastructure' as label_source,
        min(label_at) as label_at
    from expansion_candidates
    where count_shared_identifiers >= {{ var('label_expansion_min_shared') }}
        and account_id not in (select account_id from reviewed_accounts)
    group by account_id

),

{#- A standing label holds through the data it was drawn from: as of the account's export,
    or of the last snapshot when the account was exported before it (account-metadata mode
    reads each export as of its own date and snapshots once, at the latest export) or has no
    export time. Its example snapshot is never after it. -#}
{%- set standing_label_at -%}
    case
        when profiles.exported_at >= cast(snapshot_bounds.last_as_of_date as timestamp)
            then profiles.exported_at
        else cast(snapshot_bounds.last_as_of_date as timestamp)
    end
{%- endset %}

verified_labels as (

    select
        profiles.account_id,
        0 as label,
        'verified' as label_source,
        {{ standing_label_at }} as label_at
    from profiles
    cross join snapshot_bounds
    where profiles.is_verified = 1
        and profiles.account_id not in (select account_id from reviewed_accounts)
        and profiles.account_id not in (select account_id from expansion_labels)

),

sampled_negative_labels as (

    select
        profiles.account_id,
        0 as label,
        'random_unflagged' as label_source,
        {{ standing_label_at }} as label_at
    from profiles
    cross join snapshot_bounds
    where profiles.is_verified = 0
        and profiles.account_id not in (select account_id from reviewed_accounts)
        and profiles.account_id not in (select account_id from expansion_labels)
        and {{ uniform_hash('profiles.account_id', 'negative_sample') }} < {{ var('negative_sample_rate') }}

),

all_labels as (

    select * from ops_labels
    union all
    select * from expansion_labels
    union all
    select * from verified_labels
    union all
    select * from sampled_negative_labels

),

labels_with_dates as (

    select
        all_labels.account_id,
        all_labels.label,
        all_labels.label_source,
        all_labels.label_at,
        case
            when all_labels.label_source in ('ops_suspended', 'ops_cleared', 'shared_infrastructure')
                then cast({{ dbt.dateadd('day', -1, 'cast(all_labels.label_at as date)') }} as date)
            -- standing labels: a deterministic pseudo-random snapshot, so negatives spread
            -- over the window like the event-driven positives do
            else cast({{ dbt.dateadd(
                'day',
                'cast(floor(' ~ uniform_hash('all_labels.account_id', 'snapshot') ~ ' * snapshot_bounds.count_snapshot_dates) as integer)',
                'snapshot_bounds.first_as_of_date') }} as date)
        end as example_as_of_date,
        profiles.created_date
    from all_labels
    inner join profiles
        on all_labels.account_id = profiles.account_id
    cross join snapshot_bounds

),

final as (

    select
        account_id,
        label,
        label_source,
        label_at,
        case
            when example_as_of_date >= created_date then example_as_of_date
            -- event-driven label on the account's first day: no snapshot precedes the
            -- evidence, so the label has no training example (null, never a leaky one)
            when label_source in ('ops_suspended', 'ops_cleared', 'shared_infrastructure') then null
            -- a standing label of an account younger than the chosen date: its first snapshot
            else created_date
        end as example_as_of_date
    from labels_with_dates

)

select * from final
