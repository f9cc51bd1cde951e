{{ config(materialized='table') }}

{#- Connected components of the account-identifier graph (accounts joined through shared
    IPs and devices). Identifiers shared by more than `max_accounts_per_identifier` accounts
    (carrier NAT, public Wi-Fi) link nothing. Only linked accounts enter the propagation
    (about 5% of accounts); every other account is its own cluster. On DuckDB the
    propagation runs to a fixed point; elsewhere for `cluster_rounds` rounds, and
    assert_int_accounts__clusters__converged fails if that was too few. -#}

with

links as (

    select
        account_id,
        identifier_type || ':' || cast(identifier_hash as {{ dbt.type_string() }}) as identifier_key
    from {{ ref('int_accounts__identifier_links') }}
    where count_accounts_sharing between 2 and {{ var('max_accounts_per_identifier') }}

),

accounts as (

    select account_id from {{ ref('stg_platform__accounts') }}

),

components as (

    {{ connected_components('links', 'account_id', 'identifier_key') }}

),

labelled as (

    select
        accounts.account_id,
        coalesce(components.component_id, accounts.account_id) as component_id
    from accounts
    left join components
        on accounts.account_id = components.account_id

),

final as (

    select
        account_id,
        'c' || cast(component_id as {{ dbt.type_string() }}) as cluster_id,
        count(*) over (partition by component_id) as count_cluster_accounts
    from labelled

)

select * from final
