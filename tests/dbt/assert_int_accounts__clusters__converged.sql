-- Every pair of accounts sharing a linking identifier (an IP or device with 2 to
-- max_accounts_per_identifier accounts) must be in one cluster. A failure where the
-- clustering runs a fixed number of rounds (Spark) means raise the var cluster_rounds.

with

links as (

    select account_id, identifier_type, identifier_hash
    from {{ ref('int_accounts__identifier_links') }}
    where count_accounts_sharing between 2 and {{ var('max_accounts_per_identifier') }}

),

clusters as (

    select account_id, cluster_id from {{ ref('int_accounts__clusters') }}

),

clusters_per_identifier as (

    select
        links.identifier_type,
        links.identifier_hash,
        count(distinct clusters.cluster_id) as count_clusters,
        min(clusters.cluster_id) as first_cluster_id,
        max(clusters.cluster_id) as other_cluster_id
    from links
    inner join clusters
        on links.account_id = clusters.account_id
    group by links.identifier_type, links.identifier_hash

)

select * from clusters_per_identifier
where count_clusters > 1
