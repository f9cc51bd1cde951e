with

base_platform__interactions as (

    select * from {{ ref('base_platform__interactions') }}

),

final as (

    select
        id as interaction_id,
        account_id,
        post_id,
        action as interaction_action,
        created_at as interacted_at
    from base_platform__interactions
    where quarantine_reason is null

)

select * from final
