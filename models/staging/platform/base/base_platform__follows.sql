{#- Every raw follow row with the first quarantine rule it fails. -#}
with

raw_follows as (

    select * from {{ source('platform', 'follows') }}

),

base_platform__accounts as {{ botsift.not_materialized() }} (

    select * from {{ ref('base_platform__accounts') }}

),

clean_accounts as {{ botsift.not_materialized() }} (

    select
        id as clean_account_id,
        created_at as clean_account_created_at
    from base_platform__accounts
    where quarantine_reason is null

),

rules_checked as (

    select
        raw_follows.*,
        {{ botsift.first_quarantine_reason([
            botsift.quarantine_if_null(['raw_follows.id'], reason='null_id'),
            botsift.quarantine_if_null([
                'raw_follows.follower_id', 'raw_follows.followee_id', 'raw_follows.created_at',
            ]),
            botsift.quarantine_if_future(['raw_follows.created_at']),
            botsift.quarantine_if_future(['raw_follows._loaded_at'], reason='future_loaded_at', tolerance_hours=1),
            botsift.quarantine_if_before_launch(['raw_follows.created_at']),
            botsift.quarantine_if_unmatched(
                'raw_follows.follower_id', 'followers.clean_account_id', reason='unknown_account'
            ),
            botsift.quarantine_if_unmatched(
                'raw_follows.followee_id', 'followees.clean_account_id', reason='unknown_account'
            ),
            botsift.quarantine_if_equal(
                'raw_follows.follower_id', 'raw_follows.followee_id', reason='self_follow'
            ),
            botsift.quarantine_if_earlier(
                'raw_follows.created_at', 'followers.clean_account_created_at',
                reason='before_account_created'
            ),
            botsift.quarantine_if_earlier(
                'raw_follows.created_at', 'followees.clean_account_created_at',
                reason='before_account_created'
            ),
        ]) }} as row_quarantine_reason
    from raw_follows
    left join clean_accounts as followers
        on raw_follows.follower_id = followers.clean_account_id
    left join clean_accounts as followees
        on raw_follows.followee_id = followees.clean_account_id

),

final as (

    select
        id,
        follower_id,
        followee_id,
        created_at,
        _loaded_at,
        coalesce(
            row_quarantine_reason,
            {{ botsift.quarantine_if_duplicate(
                'id',
                'row_quarantine_reason',
                ['_loaded_at desc', 'follower_id', 'followee_id', 'created_at'],
            ) }}
        ) as quarantine_reason
    from rules_checked

)

select * from final
