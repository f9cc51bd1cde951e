-- Accounts joined through a shared IP or device (the same identifiers the clustering uses)
-- must never land in two different splits; and a group id must map to one split. Checked
-- independently of the clustering: straight from the identifier links.
with

examples as (

    select account_id, split, group_id from {{ ref('int_training__labelled_snapshots') }}

),

links as (

    select account_id, identifier_type, identifier_hash
    from {{ ref('int_accounts__identifier_links') }}
    where count_accounts_sharing between 2 and {{ var('max_accounts_per_identifier') }}

),

labelled_links as (

    select links.*, examples.split
    from links
    inner join examples
        on links.account_id = examples.account_id

),

crossing_pairs as (

    select
        left_side.account_id as account_id,
        right_side.account_id as other_account_id,
        left_side.split as split,
        right_side.split as other_split
    from labelled_links as left_side
    inner join labelled_links as right_side
        on left_side.identifier_type = right_side.identifier_type
        and left_side.identifier_hash = right_side.identifier_hash
        and left_side.account_id < right_side.account_id
    where left_side.split <> right_side.split

),

groups_in_several_splits as (

    select
        min(account_id) as account_id,
        cast(null as bigint) as other_account_id,
        min(split) as split,
        max(split) as other_split
    from examples
    group by group_id
    having count(distinct split) > 1

)

select * from crossing_pairs
union all
select * from groups_in_several_splits
