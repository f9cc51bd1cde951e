-- fct_account_features sums daily counts two to a window aggregate, packed in one double
-- (macros/packed_counts.sql). That is exact only while every packed daily count is a whole
-- number from 0 to packed_daily_count_limit(): one row per count outside that range, so a
-- build whose data breaks the bound stops here instead of writing wrong features.
{%- set columns = [] -%}
{%- for days, pairs in packed_trailing_counts().items() -%}
    {%- for pair in pairs -%}
        {%- for column in pair if column and column != 'count_posting_days' and column not in columns -%}
            {%- do columns.append(column) -%}
        {%- endfor -%}
    {%- endfor -%}
{%- endfor %}

with

daily_activity as (

    select * from {{ ref('int_accounts__daily_activity') }}

)

{% for column in columns -%}
select
    account_id,
    activity_date,
    '{{ column }}' as count_column,
    {{ column }} as daily_count
from daily_activity
where {{ column }} < 0
    or {{ column }} > {{ packed_daily_count_limit() }}
    or {{ column }} <> floor({{ column }})
{% if not loop.last %}union all
{% endif %}
{%- endfor %}
