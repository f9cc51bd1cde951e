{{
    config(
        materialized='incremental',
        unique_key=['as_of_date', 'feature'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        pre_hook=("{% if is_incremental() %}delete from {{ this }} where model_version not in "
                  "(select model_version from {{ source('registry', 'model_versions') }} "
                  "where status = 'active' and segment = 'global'){% endif %}"),
    )
}}

{#- Every snapshot after the active model's reference window is binned on that model's
    reference bins (registry.feature_reference_bins); PSI and Jensen-Shannon divergence compare
    the day's bin shares with the reference shares. Thresholds are the vars, raised per feature
    to `drift_noise_multiplier` times the feature's own drift inside the reference window.

    Incremental: a refresh bins its last date again and the newer ones, not every date since
    training (each is a full snapshot: at 1M accounts a full rebuild of two dates took
    15.3-15.9 s and an incremental run of one 8.6-9.2 s: about 7 s more for every day since
    training). A promotion empties it of the previous version's rows
    (pre-hook), and the new active version's dates are binned from its reference window on.
    (The monitoring folder is disabled on Spark.) -#}

{%- set features = feature_columns('fct_account_features') -%}

with

model_versions as (

    select * from {{ source('registry', 'model_versions') }}

),

feature_reference as (

    select * from {{ source('registry', 'feature_reference') }}

),

feature_reference_bins as (

    select * from {{ source('registry', 'feature_reference_bins') }}

),

fct_account_features as (

    select * from {{ ref('fct_account_features') }}

),

active_model as (

    select model_version
    from model_versions
    where status = 'active' and segment = 'global'

),

reference as (

    select feature_reference.*
    from feature_reference
    inner join active_model
        on feature_reference.model_version = active_model.model_version
    where not feature_reference.is_score

),

reference_window as (

    select max(reference_end_date) as reference_end_date
    from reference

),

reference_bins as (

    select feature_reference_bins.*
    from feature_reference_bins
    inner join reference
        on feature_reference_bins.model_version = reference.model_version
        and feature_reference_bins.feature = reference.feature

),

monitored_snapshots as (

    select fct_account_features.*
    from fct_account_features
    cross join reference_window
    where reference_window.reference_end_date is not null
        and fct_account_features.as_of_date > reference_window.reference_end_date
        {%- if is_incremental() %}
        -- the last date done again (a refresh computes its features again) and the newer
        -- ones; the pre-hook has deleted every other version's rows, so an active version
        -- new to the table starts after its reference window
        and fct_account_features.as_of_date >= (
            select coalesce(max(done.as_of_date), reference_window.reference_end_date)
            from {{ this }} as done
        )
        {%- endif %}

),

{#- Values are binned in double precision, as Python computed the reference bins: dbt's
    type_float() is a 32-bit FLOAT on DuckDB and Spark, where 0.7 is 0.69999999 and a value on
    a bin edge fell into the bin below. -#}
feature_values as (

    {%- for f in features %}
    select
        as_of_date,
        '{{ f }}' as feature,
        cast({{ f }} as double) as feature_value
    from monitored_snapshots
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
    {%- if not features %}
    select
        cast(null as date) as as_of_date,
        cast(null as {{ dbt.type_string() }}) as feature,
        cast(null as double) as feature_value
    where 1 = 0
    {%- endif %}

),

day_totals as (

    select
        as_of_date,
        feature,
        count(*) as count_rows
    from feature_values
    group by as_of_date, feature

),

binned_values as (

    select
        feature_values.as_of_date,
        feature_values.feature,
        reference_bins.bin_index
    from feature_values
    inner join reference_bins
        on feature_values.feature = reference_bins.feature
        and (
            (feature_values.feature_value is null and reference_bins.bin_kind = 'null')
            or (
                feature_values.feature_value is not null
                and reference_bins.bin_kind <> 'null'
                and (reference_bins.lower is null or feature_values.feature_value >= reference_bins.lower)
                and (reference_bins.upper is null or feature_values.feature_value < reference_bins.upper)
            )
        )

),

bin_counts as (

    select
        as_of_date,
        feature,
        bin_index,
        count(*) as count_rows
    from binned_values
    group by as_of_date, feature, bin_index

),

bin_shares as (

    select
        day_totals.as_of_date,
        day_totals.feature,
        day_totals.count_rows as count_day_rows,
        reference_bins.bin_kind,
        reference_bins.reference_share,
        coalesce(bin_counts.count_rows, 0) * 1.0 / day_totals.count_rows as current_share
    from day_totals
    inner join reference_bins
        on day_totals.feature = reference_bins.feature
    left join bin_counts
        on day_totals.as_of_date = bin_counts.as_of_date
        and day_totals.feature = bin_counts.feature
        and reference_bins.bin_index = bin_counts.bin_index

),

daily_divergence as (

    select
        as_of_date,
        feature,
        max(count_day_rows) as count_rows,
        sum({{ psi_bin_term('current_share', 'reference_share') }}) as psi,
        sum({{ js_bin_term('current_share', 'reference_share') }}) as js_divergence,
        sum(case when bin_kind in ('below_min', 'above_max') then current_share else 0 end) as novel_share,
        sum(case when bin_kind = 'null' then current_share else 0 end) as null_share
    from bin_shares
    group by as_of_date, feature

),

final as (

    select
        daily_divergence.as_of_date,
        reference.model_version,
        daily_divergence.feature,
        daily_divergence.count_rows,
        daily_divergence.psi,
        daily_divergence.js_divergence,
        daily_divergence.novel_share,
        daily_divergence.null_share,
        reference.null_share as reference_null_share,
        greatest({{ var('drift_psi_threshold') }}, {{ var('drift_noise_multiplier') }} * reference.psi_noise) as psi_threshold,
        greatest({{ var('drift_js_threshold') }}, {{ var('drift_noise_multiplier') }} * reference.js_noise) as js_threshold,
        daily_divergence.psi > greatest({{ var('drift_psi_threshold') }}, {{ var('drift_noise_multiplier') }} * reference.psi_noise) as is_psi_drifted,
        daily_divergence.js_divergence > greatest({{ var('drift_js_threshold') }}, {{ var('drift_noise_multiplier') }} * reference.js_noise) as is_js_drifted
    from daily_divergence
    inner join reference
        on daily_divergence.feature = reference.feature

)

select
    *,
    is_psi_drifted or is_js_drifted as is_drifted
from final
