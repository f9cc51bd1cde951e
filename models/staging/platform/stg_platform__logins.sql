with

base_platform__logins as (

    select * from {{ ref('base_platform__logins') }}

),

final as (

    select
        id as login_id,
        account_id,
        attempted_at,
        ip_hash,
        device_hash,
        result as login_result,
        result = 'success' as is_success
    from base_platform__logins
    where quarantine_reason is null

)

select * from final
