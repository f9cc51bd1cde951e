{#- Every raw post row with the first quarantine rule it fails. -#}
with

raw_posts as (

    select * from {{ source('platform', 'posts') }}

),

base_platform__accounts as (

    select * from {{ ref('base_platform__accounts') }}

),

clean_accounts as (

    select
        id as clean_account_id,
        created_at as clean_account_created_at
    from base_platform__accounts
    where quarantine_reason is null

),

rules_checked as (

    select
        raw_posts.*,
        {{ botsift.first_quarantine_reason([
            botsift.quarantine_if_null(['raw_posts.id'], reason='null_id'),
            botsift.quarantine_if_null(['raw_posts.account_id', 'raw_posts.created_at']),
            botsift.quarantine_if_invalid_text(['raw_posts.text']),
            botsift.quarantine_if_future(['raw_posts.created_at']),
            botsift.quarantine_if_future(['raw_posts._loaded_at'], reason='future_loaded_at', tolerance_hours=1),
            botsift.quarantine_if_before_launch(['raw_posts.created_at']),
            botsift.quarantine_if_unmatched(
                'raw_posts.account_id', 'clean_accounts.clean_account_id', reason='unknown_account'
            ),
            botsift.quarantine_if_earlier(
                'raw_posts.created_at', 'clean_accounts.clean_account_created_at',
                reason='before_account_created'
            ),
        ]) }} as row_quarantine_reason
    from raw_posts
    left join clean_accounts
        on raw_posts.account_id = clean_accounts.clean_account_id

),

final as (

    select
        id,
        account_id,
        created_at,
        text,
        in_reply_to_post_id,
        mentioned_account_ids,
        _loaded_at,
        coalesce(
            row_quarantine_reason,
            {{ botsift.quarantine_if_duplicate(
                'id',
                'row_quarantine_reason',
                [
                    '_loaded_at desc', 'account_id', 'created_at', 'text',
                    'in_reply_to_post_id', 'mentioned_account_ids',
                ],
            ) }}
        ) as quarantine_reason
    from rules_checked

)

select * from final
