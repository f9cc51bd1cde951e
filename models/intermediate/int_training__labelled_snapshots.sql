{{ config(materialized='table') }}

{#- Every label joined to its feature snapshot and its cluster, with a deterministic split:
    clusters are the unit (a botnet never straddles splits), stratified by each cluster's
    majority label and region, ordered by a hash of the cluster id and cut by cumulative
    row share into train / validation / test (strata of fewer than 20 groups are dealt out
    in a fixed cycle instead, so each split gets some). The cycle's shares are fixed
    (70/15/15); the vars split_*_share drive the row-share cut. -#}

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
        {{ uniform_hash('group_id', 'split') }} as group_order
    from examples
    group by group_id

),

group_positions as (

    select
        group_id,
        count(*) over (partition by stratum_label, stratum_region) as count_stratum_groups,
        row_number() over (
            partition by stratum_label, stratum_region
            order by group_order, group_id
        ) - 1 as group_rank,
        (sum(count_group_examples) over (
            partition by stratum_label, stratum_region
            order by group_order, group_id
            rows between unbounded preceding and current row
        ) - count_group_examples / 2.0)
        / sum(count_group_examples) over (partition by stratum_label, stratum_region) as group_position
    from group_strata

),

final as (

    select
        examples.*,
        case
            -- few groups in the stratum: deal them out in a fixed 20-slot cycle (14 train,
            -- 3 validation, 3 test) that reaches validation and test by the second and third
            -- group, so small strata still land in every split
            when group_positions.count_stratum_groups < 20 then
                case cast(group_positions.group_rank as integer) % 20
                    when 1 then 'validation'
                    when 8 then 'validation'
                    when 15 then 'validation'
                    when 2 then 'test'
                    when 12 then 'test'
                    when 18 then 'test'
                    else 'train'
                end
            when group_positions.group_position < {{ var('split_train_share') }} then 'train'
            when group_positions.group_position < {{ var('split_train_share') + var('split_validation_share') }} then 'validation'
            else 'test'
        end as split
    from examples
    inner join group_positions
        on examples.group_id = group_positions.group_id

)

select * from final
