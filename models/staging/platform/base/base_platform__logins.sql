{#- Every raw login row, identifiers hashed, with the first quarantine rule it fails. -#}
with

raw_logins as (

    select * from {{ source('platform', 'logins') }}

),

base_platform__accounts as (

    select * from {{ ref('base_platform__accounts') }}

),

clean_accounts as (

    select
        id as clean_account_id,
        created_at as clean_account_created_at
    from base_platform__accounts
    where quarantine_reason is null

),

rules_checked as (

    select
        raw_logins.*,
        {{ botsift.first_quarantine_reason([
            botsift.quarantine_if_null(['raw_logins.id'], reason='null_id'),
            botsift.quarantine_if_null([
                'raw_logins.account_id', 'raw_logins.attempted_at', 'raw_logins.result',
            ]),
            botsift.quarantine_if_invalid_text([
                'raw_logins.ip', 'raw_logins.device_id', 'raw_logins.result',
            ]),
            botsift.quarantine_if_not_accepted('raw_logins.result', var('accepted_login_results')),
            botsift.quarantine_if_future(['raw_logins.attempted_at']),
            botsift.quarantine_if_future(['raw_logins._loaded_at'], reason='future_loaded_at', tolerance_hours=1),
            botsift.quarantine_if_before_launch(['raw_logins.attempted_at']),
            botsift.quarantine_if_unmatched(
                'raw_logins.account_id', 'clean_accounts.clean_account_id', reason='unknown_account'
            ),
            botsift.quarantine_if_earlier(
                'raw_logins.attempted_at', 'clean_accounts.clean_account_created_at',
                reason='before_account_created'
            ),
        ]) }} as row_quarantine_reason
    from raw_logins
    left join clean_accounts
        on raw_logins.account_id = clean_accounts.clean_account_id

),

final as (

    select
        id,
        account_id,
        attempted_at,
        {{ botsift.hash_identifier('ip') }} as ip_hash,
        {{ botsift.hash_identifier('device_id') }} as device_hash,
        result,
        _loaded_at,
        coalesce(
            row_quarantine_reason,
            {{ botsift.quarantine_if_duplicate(
                'id',
                'row_quarantine_reason',
                ['_loaded_at desc', 'account_id', 'attempted_at', 'ip', 'device_id', 'result'],
            ) }}
        ) as quarantine_reason
    from rules_checked

)

select * from final
