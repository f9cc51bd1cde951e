-- No training example may use a feature snapshot from on or after its label's evidence
-- (event-driven labels) or after it (standing labels), and no snapshot may postdate the
-- raw data it was built from.
with

examples as (

    select * from {{ ref('ml_training_examples') }}

),

last_activity as (

    select max(as_of_date) as last_as_of_date from {{ ref('int_features__snapshot_dates') }}

)

select examples.account_id, examples.as_of_date, examples.label_source, examples.label_at
from examples
cross join last_activity
where (
        examples.label_source in ('ops_suspended', 'ops_cleared', 'shared_infrastructure')
        and examples.as_of_date >= cast(examples.label_at as date)
    )
    or examples.as_of_date > cast(examples.label_at as date)
    or examples.as_of_date > last_activity.last_as_of_date
