{{ config(materialized='table') }}

with

posts as (

    select * from {{ ref('stg_platform__posts') }}

),

accounts as (

    select * from {{ ref('stg_platform__accounts') }}

),

region_timezones as (

    select * from {{ ref('region_timezones') }}

),

posts_with_keys as (

    select
        posts.post_id,
        posts.account_id,
        posts.posted_at,
        cast(posts.posted_at as date) as posted_date,
        {{ epoch_seconds('posts.posted_at') }} as posted_epoch,
        {{ hex_prefix_to_bigint(dbt.hash(normalize_post_text('posts.post_text'))) }} as normalized_text_hash,
        coalesce(posts.count_mentions, 0) as count_mentions,
        case when posts.reply_to_post_id is not null then 1 else 0 end as is_reply,
        case when lower(posts.post_text) like '%http%' then 1 else 0 end as has_url,
        {{ local_hour('posts.posted_at', 'coalesce(region_timezones.utc_offset_hours, 0)') }} as local_hour
    from posts
    left join accounts
        on posts.account_id = accounts.account_id
    left join region_timezones
        on accounts.region = region_timezones.region

),

posts_with_previous as (

    select
        *,
        lag(posted_epoch) over (
            partition by account_id, normalized_text_hash
            order by posted_epoch, post_id
        ) as previous_same_text_epoch,
        lag(posted_epoch) over (
            partition by account_id
            order by posted_epoch, post_id
        ) as previous_post_epoch
    from posts_with_keys

),

final as (

    select
        post_id,
        account_id,
        posted_at,
        posted_date,
        posted_epoch,
        normalized_text_hash,
        count_mentions,
        is_reply,
        has_url,
        local_hour,
        case when local_hour < 6 then 1 else 0 end as is_local_night,
        -- a post without text repeats nothing (null hashes would share one partition)
        case
            when normalized_text_hash is not null
                and previous_same_text_epoch >= posted_epoch - 30 * 86400 then 1 else 0
        end as is_repeat_30d,
        case
            when previous_post_epoch >= posted_epoch - 7 * 86400
                then posted_epoch - previous_post_epoch
        end as gap_seconds
    from posts_with_previous

)

select * from final
