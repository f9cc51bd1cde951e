-- A label may only be joined to a feature snapshot that ends before its evidence existed:
-- example_as_of_date must be earlier than the date of label_at for event-driven labels
-- (ops reviews, shared infrastructure), and never after it for standing labels.
select *
from {{ ref('fct_account_labels') }}
where (
        label_source in ('ops_suspended', 'ops_cleared', 'shared_infrastructure')
        and example_as_of_date >= cast(label_at as date)
    )
    or example_as_of_date > cast(label_at as date)
