{{ config(materialized='table') }}

with

posts as {{ botsift.not_materialized() }} (

    select * from {{ ref('stg_platform__posts') }}

),

mentioned as (

    select
        account_id,
        cast(posted_at as date) as posted_date,
        {{ unnest_list('mentioned_account_ids') }} as reached_account_id
    from posts
    where count_mentions > 0

),

replied_to as (

    select
        replies.account_id,
        cast(replies.posted_at as date) as posted_date,
        parents.account_id as reached_account_id
    from posts as replies
    inner join posts as parents
        on replies.reply_to_post_id = parents.post_id

),

reached as (

    select * from mentioned
    union all
    select * from replied_to

),

final as (

    select
        account_id,
        posted_date as activity_date,
        count(distinct reached_account_id) as count_distinct_reached
    from reached
    where reached_account_id <> account_id
    group by account_id, posted_date

)

select * from final
