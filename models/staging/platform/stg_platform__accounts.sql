with

base_platform__accounts as (

    select * from {{ ref('base_platform__accounts') }}

),

final as (

    select
        id as account_id,
        created_at,
        region,
        signup_ip_hash,
        signup_device_hash,
        signup_client,
        screen_name,
        name as display_name,
        description as bio,
        default_profile_image as has_default_profile_image,
        verified as is_verified,
        lang as language,
        url as profile_url,
        followers_count as count_followers,
        friends_count as count_following,
        statuses_count as count_posts,
        favourites_count as count_likes,
        listed_count as count_listed,
        exported_at
    from base_platform__accounts
    where quarantine_reason is null

)

select * from final
