-- Each split has the label share of its region, within 1 percentage point plus the
-- granularity the grouping allows (one cluster moves as a whole: its size over the
-- split's size in that region). Checked before down-sampling, which changes the train
-- prior on purpose (and is recorded in sampling_rate).
with

examples as (

    -- a null region is a stratum of its own in the split: compare it too (an equality join
    -- would leave it out, and exports without regions would go unchecked)
    select
        coalesce(region, '(no region)') as region,
        group_id,
        label,
        split
    from {{ ref('int_training__labelled_snapshots') }}

),

group_sizes as (

    select region, group_id, count(*) as count_group_examples
    from examples
    group by region, group_id

),

largest_group as (

    select region, max(count_group_examples) as max_group_examples
    from group_sizes
    group by region

),

region_share as (

    select region, avg(cast(label as double)) as positive_share
    from examples
    group by region

),

split_share as (

    select region, split, count(*) as count_examples, avg(cast(label as double)) as positive_share
    from examples
    group by region, split

),

final as (

    select
        split_share.region,
        split_share.split,
        split_share.count_examples,
        split_share.positive_share as split_positive_share,
        region_share.positive_share as region_positive_share,
        0.01 + cast(largest_group.max_group_examples as double) / split_share.count_examples as tolerance
    from split_share
    inner join region_share
        on split_share.region = region_share.region
    inner join largest_group
        on split_share.region = largest_group.region

)

select *
from final
where abs(split_positive_share - region_positive_share) > tolerance
