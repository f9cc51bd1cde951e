{{ config(materialized='table') }}

{#- Every label joined to its feature snapshot and its cluster, with a deterministic split.
    Clusters are the unit (a botnet never straddles splits), and a cluster's split is a cut of
    a hash of its id (its smallest account id) at the vars split_*_share: it depends on the
    cluster alone, so a refresh that adds labels and clusters leaves it where it was. Strata
    (each cluster's majority label and region) step in only where the hash alone would leave
    a stratum badly split: with three or more groups every split gets one (the boundary
    moves past the nearest groups in hash order), and a large group (a botnet, 5% of its
    stratum's rows or more) goes to validation or test only if no other large group of the
    stratum is there before it in hash order (otherwise it trains). -#}

with

labels as (

    select * from {{ ref('fct_account_labels') }}

),

features as (

    {#- Only the snapshot window's dates: incremental builds keep older dates for scoring and
        monitoring, and training must not depend on how the feature table was built. -#}
    select * from {{ ref('fct_account_features') }}
    where as_of_date in (select as_of_date from {{ ref('int_features__snapshot_dates') }})

),

clusters as (

    select * from {{ ref('int_accounts__clusters') }}

),

examples as (

    select
        features.*,
        labels.label,
        labels.label_source,
        labels.label_at,
        clusters.cluster_id as group_id
    from labels
    inner join features
        on labels.account_id = features.account_id
        and labels.example_as_of_date = features.as_of_date
    inner join clusters
        on labels.account_id = clusters.account_id

),

group_strata as (

    select
        group_id,
        count(*) as count_group_examples,
        case when avg(cast(label as double)) >= 0.5 then 1 else 0 end as stratum_label,
        min(region) as stratum_region,
        {{ uniform_hash('group_id', 'split') }} as group_hash
    from examples
    group by group_id

),

group_ranks as (

    select
        group_id,
        group_hash,
        stratum_label,
        stratum_region,
        row_number() over (
            partition by stratum_label, stratum_region
            order by group_hash, group_id
        ) - 1 as group_rank,
        count(*) over (partition by stratum_label, stratum_region) as count_stratum_groups,
        -- how many of the stratum's groups the hash cut alone puts before each boundary
        sum(case when group_hash < {{ var('split_train_share') }} then 1 else 0 end)
            over (partition by stratum_label, stratum_region) as count_hashed_train,
        sum(case when group_hash < {{ var('split_train_share') + var('split_validation_share') }} then 1 else 0 end)
            over (partition by stratum_label, stratum_region) as count_hashed_train_validation,
        -- a botnet: one group holding 5% of its stratum's rows or more (a third of a 15% split)
        case
            when count_group_examples >= 0.05 * sum(count_group_examples) over (partition by stratum_label, stratum_region)
                then 1
            else 0
        end as is_large_group
    from group_strata

),

train_boundaries as (

    {#- At least one train group; with three or more groups, at least one in each split. A
        boundary the hash left at an end of the stratum moves past the nearest groups in hash
        order; where the hash alone fills every split, it stays where the hash put it. -#}
    select
        *,
        case
            when count_stratum_groups >= 3
                then greatest(least(count_hashed_train, count_stratum_groups - 2), 1)
            else greatest(count_hashed_train, 1)
        end as train_end
    from group_ranks

),

group_boundaries as (

    select
        *,
        case
            when count_stratum_groups >= 3
                then greatest(least(count_hashed_train_validation, count_stratum_groups - 1), train_end + 1)
            else greatest(count_hashed_train_validation, train_end)
        end as validation_end
    from train_boundaries

),

hashed_splits as (

    select
        group_id,
        group_hash,
        stratum_label,
        stratum_region,
        is_large_group,
        case
            when group_rank < train_end then 'train'
            when group_rank < validation_end then 'validation'
            else 'test'
        end as hashed_split
    from group_boundaries

),

large_group_ranks as (

    select
        *,
        row_number() over (
            partition by stratum_label, stratum_region, hashed_split, is_large_group
            order by group_hash, group_id
        ) as large_group_rank
    from hashed_splits

),

group_splits as (

    {#- At most one large group of a stratum in validation and one in test (the first in hash
        order; the others train), so two botnets cannot pile into one small split. -#}
    select
        group_id,
        case
            when hashed_split <> 'train' and is_large_group = 1 and large_group_rank > 1 then 'train'
            else hashed_split
        end as split
    from large_group_ranks

),

final as (

    select
        examples.*,
        group_splits.split
    from examples
    inner join group_splits
        on examples.group_id = group_splits.group_id

)

select * from final
