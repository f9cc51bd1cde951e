{#- Every raw ops review row with the first quarantine rule it fails. -#}
with

raw_ops_reviews as (

    select * from {{ source('ops', 'ops_reviews') }}

),

base_platform__accounts as (

    select * from {{ ref('base_platform__accounts') }}

),

clean_accounts as (

    select id as clean_account_id
    from base_platform__accounts
    where quarantine_reason is null

),

rules_checked as (

    select
        raw_ops_reviews.*,
        {{ botsift.first_quarantine_reason([
            botsift.quarantine_if_null(['raw_ops_reviews.id'], reason='null_id'),
            botsift.quarantine_if_null([
                'raw_ops_reviews.account_id', 'raw_ops_reviews.reviewed_at',
                'raw_ops_reviews.decision',
            ]),
            botsift.quarantine_if_invalid_text(['raw_ops_reviews.decision', 'raw_ops_reviews.note']),
            botsift.quarantine_if_not_accepted(
                'raw_ops_reviews.decision', var('accepted_review_decisions')
            ),
            botsift.quarantine_if_future(['raw_ops_reviews.reviewed_at']),
            botsift.quarantine_if_future(['raw_ops_reviews._loaded_at'], reason='future_loaded_at', tolerance_hours=1),
            botsift.quarantine_if_before_launch(['raw_ops_reviews.reviewed_at']),
            botsift.quarantine_if_unmatched(
                'raw_ops_reviews.account_id', 'clean_accounts.clean_account_id',
                reason='unknown_account'
            ),
        ]) }} as row_quarantine_reason
    from raw_ops_reviews
    left join clean_accounts
        on raw_ops_reviews.account_id = clean_accounts.clean_account_id

),

final as (

    select
        id,
        account_id,
        reviewed_at,
        decision,
        note,
        _loaded_at,
        coalesce(
            row_quarantine_reason,
            {{ botsift.quarantine_if_duplicate(
                'id',
                'row_quarantine_reason',
                ['_loaded_at desc', 'account_id', 'reviewed_at', 'decision', 'note'],
            ) }}
        ) as quarantine_reason
    from rules_checked

)

select * from final
