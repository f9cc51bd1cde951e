with

base_ops__reviews as (

    select * from {{ ref('base_ops__reviews') }}

),

final as (

    select
        id as review_id,
        account_id,
        reviewed_at,
        decision as review_decision,
        note as review_note
    from base_ops__reviews
    where quarantine_reason is null

)

select * from final
