with

base_platform__posts as (

    select * from {{ ref('base_platform__posts') }}

),

final as (

    select
        id as post_id,
        account_id,
        created_at as posted_at,
        text as post_text,
        in_reply_to_post_id as reply_to_post_id,
        mentioned_account_ids,
        coalesce({{ botsift.array_size('mentioned_account_ids') }}, 0) as count_mentions
    from base_platform__posts
    where quarantine_reason is null

)

select * from final
