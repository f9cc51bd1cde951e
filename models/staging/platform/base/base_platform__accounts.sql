{#- Every raw account row, identifiers hashed, with the first quarantine rule it fails. -#}
with

raw_accounts as (

    select * from {{ source('platform', 'accounts') }}

),

rules_checked as (

    select
        raw_accounts.*,
        {{ botsift.first_quarantine_reason([
            botsift.quarantine_if_null(['id'], reason='null_id'),
            botsift.quarantine_if_null(['created_at']),
            botsift.quarantine_if_invalid_text([
                'region', 'signup_ip', 'signup_device', 'signup_client', 'screen_name',
                'name', 'description', 'lang', 'url',
            ]),
            botsift.quarantine_if_not_accepted('region', var('accepted_regions')),
            botsift.quarantine_if_not_accepted('signup_client', var('accepted_signup_clients')),
            botsift.quarantine_if_negative([
                'followers_count', 'friends_count', 'statuses_count', 'favourites_count',
                'listed_count',
            ]),
            botsift.quarantine_if_future(['created_at', 'exported_at']),
            botsift.quarantine_if_future(['_loaded_at'], reason='future_loaded_at', tolerance_hours=1),
            botsift.quarantine_if_before_launch(['created_at', 'exported_at']),
            botsift.quarantine_if_earlier('exported_at', 'created_at', reason='created_after_export'),
        ]) }} as row_quarantine_reason
    from raw_accounts

),

final as (

    select
        id,
        created_at,
        region,
        {{ botsift.hash_identifier('signup_ip') }} as signup_ip_hash,
        {{ botsift.hash_identifier('signup_device') }} as signup_device_hash,
        signup_client,
        screen_name,
        name,
        description,
        default_profile_image,
        verified,
        lang,
        url,
        followers_count,
        friends_count,
        statuses_count,
        favourites_count,
        listed_count,
        exported_at,
        _loaded_at,
        coalesce(
            row_quarantine_reason,
            {{ botsift.quarantine_if_duplicate(
                'id',
                'row_quarantine_reason',
                [
                    'exported_at desc', '_loaded_at desc', 'created_at', 'region', 'signup_ip',
                    'signup_device', 'signup_client', 'screen_name', 'name', 'description',
                    'default_profile_image', 'verified', 'lang', 'url', 'followers_count',
                    'friends_count', 'statuses_count', 'favourites_count', 'listed_count',
                ],
            ) }}
        ) as quarantine_reason
    from rules_checked

)

select * from final
