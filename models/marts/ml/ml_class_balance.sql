{{ config(materialized='table') }}

{#- Class counts and minority share of the labelled examples, overall and per region and
    split, and the imbalance strategy picked by the rule of thumb:
    minority share >= imbalance_balanced_minority_share: leave it ('none');
    else with >= imbalance_large_data_rows training rows: down-sample the majority to
    imbalance_target_minority_share ('downsample_majority');
    else: class weights ('class_weights'). The var imbalance_strategy overrides 'auto'.
    Only the train split is ever sampled; validation and test keep the real prior. -#}

with

examples as {{ botsift.not_materialized() }} (

    select * from {{ ref('int_training__labelled_snapshots') }}

),

train_totals as (

    select
        sum(case when label = 1 then 1 else 0 end) as count_positives,
        sum(case when label = 0 then 1 else 0 end) as count_negatives,
        count(*) as count_examples
    from examples
    where split = 'train'

),

decision as (

    select
        count_positives,
        count_negatives,
        {{ safe_divide('least(count_positives, count_negatives)', 'count_examples') }} as minority_share,
        {% if var('imbalance_strategy') != 'auto' %}
        '{{ var("imbalance_strategy") }}'
        {% else %}
        case
            when {{ safe_divide('least(count_positives, count_negatives)', 'count_examples') }}
                >= {{ var('imbalance_balanced_minority_share') }} then 'none'
            when count_examples >= {{ var('imbalance_large_data_rows') }} then 'downsample_majority'
            else 'class_weights'
        end
        {% endif %} as strategy
    from train_totals

),

sampling as (

    select
        strategy,
        case
            when strategy = 'downsample_majority' and count_positives > 0 and count_negatives > 0 then
                least(1.0,
                    count_positives * (1 - {{ var('imbalance_target_minority_share') }})
                    / {{ var('imbalance_target_minority_share') }}
                    / count_negatives)
            else 1.0
        end as negative_sampling_rate
    from decision

),

segments as (

    select 'overall' as segment_type, 'all' as segment_value, split, label from examples
    union all
    select 'region' as segment_type, region as segment_value, split, label from examples

),

counts as (

    select
        segment_type,
        segment_value,
        split,
        count(*) as count_examples,
        sum(case when label = 1 then 1 else 0 end) as count_positives,
        sum(case when label = 0 then 1 else 0 end) as count_negatives
    from segments
    group by segment_type, segment_value, split

),

final as (

    select
        counts.segment_type,
        counts.segment_value,
        counts.split,
        counts.count_examples,
        counts.count_positives,
        counts.count_negatives,
        {{ safe_divide('counts.count_positives', 'counts.count_examples') }} as positive_share,
        {{ safe_divide('least(counts.count_positives, counts.count_negatives)', 'counts.count_examples') }} as minority_share,
        sampling.strategy,
        case when counts.split = 'train' then sampling.negative_sampling_rate else 1.0 end as negative_sampling_rate
    from counts
    cross join sampling

)

select * from final
