{#- Every raw interaction row with the first quarantine rule it fails. -#}
with

raw_interactions as (

    select * from {{ source('platform', 'interactions') }}

),

base_platform__accounts as (

    select * from {{ ref('base_platform__accounts') }}

),

base_platform__posts as (

    select * from {{ ref('base_platform__posts') }}

),

clean_accounts as (

    select
        id as clean_account_id,
        created_at as clean_account_created_at
    from base_platform__accounts
    where quarantine_reason is null

),

clean_posts as (

    select id as clean_post_id
    from base_platform__posts
    where quarantine_reason is null

),

rules_checked as (

    select
        raw_interactions.*,
        {{ botsift.first_quarantine_reason([
            botsift.quarantine_if_null(['raw_interactions.id'], reason='null_id'),
            botsift.quarantine_if_null([
                'raw_interactions.account_id', 'raw_interactions.post_id',
                'raw_interactions.action', 'raw_interactions.created_at',
            ]),
            botsift.quarantine_if_invalid_text(['raw_interactions.action']),
            botsift.quarantine_if_not_accepted(
                'raw_interactions.action', var('accepted_interaction_actions')
            ),
            botsift.quarantine_if_future(['raw_interactions.created_at']),
            botsift.quarantine_if_future(['raw_interactions._loaded_at'], reason='future_loaded_at', tolerance_hours=1),
            botsift.quarantine_if_before_launch(['raw_interactions.created_at']),
            botsift.quarantine_if_unmatched(
                'raw_interactions.account_id', 'clean_accounts.clean_account_id',
                reason='unknown_account'
            ),
            botsift.quarantine_if_unmatched(
                'raw_interactions.post_id', 'clean_posts.clean_post_id', reason='unknown_post'
            ),
            botsift.quarantine_if_earlier(
                'raw_interactions.created_at', 'clean_accounts.clean_account_created_at',
                reason='before_account_created'
            ),
        ]) }} as row_quarantine_reason
    from raw_interactions
    left join clean_accounts
        on raw_interactions.account_id = clean_accounts.clean_account_id
    left join clean_posts
        on raw_interactions.post_id = clean_posts.clean_post_id

),

final as (

    select
        id,
        account_id,
        post_id,
        action,
        created_at,
        _loaded_at,
        coalesce(
            row_quarantine_reason,
            {{ botsift.quarantine_if_duplicate(
                'id',
                'row_quarantine_reason',
                ['_loaded_at desc', 'account_id', 'post_id', 'action', 'created_at'],
            ) }}
        ) as quarantine_reason
    from rules_checked

)

select * from final
