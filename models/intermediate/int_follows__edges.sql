{{ config(materialized='table') }}

{#- One row per follow, with the moment it became mutual (the later of the two follows)
    when the followee follows back. -#}

with

follows as (

    select * from {{ ref('stg_platform__follows') }}

),

first_follows as (

    select
        follower_account_id,
        followee_account_id,
        min(followed_at) as followed_at
    from follows
    group by follower_account_id, followee_account_id

),

final as (

    select
        outgoing.follower_account_id,
        outgoing.followee_account_id,
        outgoing.followed_at,
        cast(outgoing.followed_at as date) as followed_date,
        case
            when incoming.followed_at is null then null
            when incoming.followed_at > outgoing.followed_at then incoming.followed_at
            else outgoing.followed_at
        end as mutual_at
    from first_follows as outgoing
    left join first_follows as incoming
        on outgoing.follower_account_id = incoming.followee_account_id
        and outgoing.followee_account_id = incoming.follower_account_id

)

select * from final
