{{ config(materialized='table') }}

{#- One row per account per identifier it has used (login IP, login device, sign-up IP,
    sign-up device), with when it first used it and how many accounts share it in all.
    Identifiers are already salted hashes from staging. -#}

with

logins as {{ botsift.not_materialized() }} (

    select * from {{ ref('stg_platform__logins') }}

),

accounts as {{ botsift.not_materialized() }} (

    select * from {{ ref('stg_platform__accounts') }}

),

uses as (

    select account_id, 'ip' as identifier_type, ip_hash as identifier_hash, attempted_at as used_at
    from logins
    where ip_hash is not null
    union all
    select account_id, 'device' as identifier_type, device_hash as identifier_hash, attempted_at as used_at
    from logins
    where device_hash is not null
    union all
    select account_id, 'ip' as identifier_type, signup_ip_hash as identifier_hash, created_at as used_at
    from accounts
    where signup_ip_hash is not null
    union all
    select account_id, 'device' as identifier_type, signup_device_hash as identifier_hash, created_at as used_at
    from accounts
    where signup_device_hash is not null

),

first_uses as (

    select
        account_id,
        identifier_type,
        identifier_hash,
        min(used_at) as first_used_at
    from uses
    group by account_id, identifier_type, identifier_hash

),

final as (

    select
        account_id,
        identifier_type,
        identifier_hash,
        first_used_at,
        count(*) over (partition by identifier_type, identifier_hash) as count_accounts_sharing
    from first_uses

)

select * from final
