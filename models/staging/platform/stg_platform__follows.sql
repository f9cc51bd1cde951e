with

base_platform__follows as (

    select * from {{ ref('base_platform__follows') }}

),

final as (

    select
        id as follow_id,
        follower_id as follower_account_id,
        followee_id as followee_account_id,
        created_at as followed_at
    from base_platform__follows
    where quarantine_reason is null

)

select * from final
