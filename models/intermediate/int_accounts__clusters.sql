{{ config(materialized='table') }}

{#- Connected components of the account-identifier graph (accounts joined through shared
    IPs and devices), by min-label propagation for a fixed number of rounds (portable SQL,
    no recursion). Identifiers shared by more than `max_accounts_per_identifier` accounts
    (carrier NAT, public Wi-Fi) link nothing. Botnets are dense, so a few rounds converge;
    the split test checks that no shared identifier crosses splits. -#}

{%- set rounds = 6 -%}

with

links as (

    select
        account_id,
        identifier_type || ':' || identifier_hash as identifier_key
    from {{ ref('int_accounts__identifier_links') }}
    where count_accounts_sharing between 2 and {{ var('max_accounts_per_identifier') }}

),

accounts as (

    select account_id from {{ ref('stg_platform__accounts') }}

),

round_0 as (

    select account_id, account_id as component_id from accounts

),

{% for i in range(1, rounds + 1) %}
identifier_min_{{ i }} as (

    select
        links.identifier_key,
        min(round_{{ i - 1 }}.component_id) as component_id
    from links
    inner join round_{{ i - 1 }}
        on links.account_id = round_{{ i - 1 }}.account_id
    group by links.identifier_key

),

round_{{ i }} as (

    select
        round_{{ i - 1 }}.account_id,
        least(round_{{ i - 1 }}.component_id, coalesce(min(identifier_min_{{ i }}.component_id), round_{{ i - 1 }}.component_id)) as component_id
    from round_{{ i - 1 }}
    left join links
        on round_{{ i - 1 }}.account_id = links.account_id
    left join identifier_min_{{ i }}
        on links.identifier_key = identifier_min_{{ i }}.identifier_key
    group by round_{{ i - 1 }}.account_id, round_{{ i - 1 }}.component_id

),

{% endfor %}

final as (

    select
        account_id,
        'c' || cast(component_id as {{ dbt.type_string() }}) as cluster_id,
        count(*) over (partition by component_id) as count_cluster_accounts
    from round_{{ rounds }}

)

select * from final
