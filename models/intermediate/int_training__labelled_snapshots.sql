{{ config(materialized='table') }}

{#- Every label joined to its feature snapshot and its cluster, with a deterministic split.
    Clusters are the unit (a botnet never straddles splits), stratified by each cluster's
    majority label and region, and placed so that a refresh moves as few as it can:
    - a large cluster (a botnet: two accounts or more and 5% of its stratum's rows or more),
      and every cluster of a stratum of fewer than 20, is cut by a hash of its own id (its
      smallest account id) at the vars split_*_share, so its split depends on the cluster
      alone. Two guards: with three or more clusters in the stratum every split gets one (a
      boundary the hash left at an end moves past the nearest clusters in hash order), and
      only the first large cluster in hash order goes to validation and to test (the others
      train), so two botnets cannot pile into one small split;
    - the small clusters of a stratum of 20 or more (most humans) are cut by cumulative row
      share in hash order, which stratifies them exactly; a refresh moves only those near a
      boundary.
    benchmarks/split_rules.py compares these rules (README, "Split stability"). -#}

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
        count_group_examples,
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
        -- a botnet: a group of two or more holding 5% of its stratum's rows or more (a third
        -- of a 15% split); one account is never one
        case
            when count_group_examples >= 2
                and count_group_examples >= 0.05 * sum(count_group_examples) over (partition by stratum_label, stratum_region)
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
        count_group_examples,
        count_stratum_groups,
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

small_group_positions as (

    {#- Each group's midpoint in its stratum's cumulative row share, in hash order, among the
        groups of its size class (the row-share cut below uses it for the small ones). -#}
    select
        *,
        (sum(count_group_examples) over (
            partition by stratum_label, stratum_region, is_large_group
            order by group_hash, group_id
            rows between unbounded preceding and current row
        ) - count_group_examples / 2.0)
        / sum(count_group_examples) over (partition by stratum_label, stratum_region, is_large_group)
            as group_position
    from large_group_ranks

),

group_splits as (

    select
        group_id,
        case
            -- the small groups of a stratum of many: cumulative row share, exact strata
            when count_stratum_groups >= 20 and is_large_group = 0 then
                case
                    when group_position < {{ var('split_train_share') }} then 'train'
                    when group_position < {{ var('split_train_share') + var('split_validation_share') }} then 'validation'
                    else 'test'
                end
            -- at most one large group of a stratum in validation and one in test (the first
            -- in hash order; the others train)
            when hashed_split <> 'train' and is_large_group = 1 and large_group_rank > 1 then 'train'
            else hashed_split
        end as split
    from small_group_positions

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
