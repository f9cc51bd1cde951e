{{ config(materialized='table') }}

{#- Static per-account attributes: profile fields and sign-up context. Sign-up bursts only
    count accounts created at or before this one, so no snapshot sees a later account. -#}

with

accounts as (

    select * from {{ ref('stg_platform__accounts') }}

),

with_signup_neighbours as (

    select
        *,
        {{ epoch_seconds('created_at') }} as created_epoch
    from accounts

),

final as (

    select
        account_id,
        created_at,
        cast(created_at as date) as created_date,
        region,
        signup_client,
        exported_at,
        count_followers,
        count_following,
        count_posts,
        count_likes,
        count_listed,
        case when has_default_profile_image then 1 else 0 end as has_default_profile_image,
        case when is_verified then 1 else 0 end as is_verified,
        case when profile_url is not null and profile_url <> '' then 1 else 0 end as has_profile_url,
        coalesce(length(bio), 0) as bio_length,
        coalesce(length(screen_name), 0) as screen_name_length,
        coalesce(length(display_name), 0) as display_name_length,
        {{ safe_divide(
            "length(screen_name) - length(" ~ regexp_replace_all('screen_name', '[0-9]', '') ~ ")",
            'length(screen_name)') }} as screen_name_digit_ratio,
        -- an unknown sign-up IP (account exports have none) links no accounts: without this
        -- every null-IP account would share one partition and count the whole export
        case when signup_ip_hash is null then 0 else count(*) over (
            partition by signup_ip_hash
            order by created_epoch
            range between 3600 preceding and current row
        ) - 1 end as count_signup_ip_burst_1h,
        case when signup_ip_hash is null then 0 else count(*) over (
            partition by signup_ip_hash
            order by created_epoch
            range between unbounded preceding and current row
        ) - 1 end as count_signup_ip_earlier_accounts
    from with_signup_neighbours

)

select * from final
