{{ config(materialized='table') }}

{#- Training examples: labelled snapshots with their split; train negatives are down-sampled
    by a deterministic hash when ml_class_balance chose 'downsample_majority', and each row
    records the probability its class was kept (sampling_rate), so scores can be corrected
    back to the real prior. -#}

with

examples as (

    select * from {{ ref('int_training__labelled_snapshots') }}

),

sampling as (

    select distinct negative_sampling_rate
    from {{ ref('ml_class_balance') }}
    where split = 'train' and segment_type = 'overall'

),

with_rates as (

    select
        examples.*,
        case
            when examples.split = 'train' and examples.label = 0 then coalesce(sampling.negative_sampling_rate, 1.0)
            else 1.0
        end as sampling_rate
    from examples
    left join sampling
        on 1 = 1

),

final as (

    select *
    from with_rates
    where sampling_rate >= 1.0
        or {{ uniform_hash('account_id', 'downsample') }} < sampling_rate

)

select * from final
