{% macro validate_vars() %}
{#- Check the project vars (dbt_project.yml, or --vars) before any node runs, naming each one
    out of range: a bad share or enum otherwise surfaces as a failing data test far
    downstream, or as silently wrong labels. Run by on-run-start; renders no SQL when all hold. -#}
{%- set problems = [] -%}
{%- set label_sources = ['ops_suspended', 'ops_cleared', 'shared_infrastructure', 'verified',
                         'random_unflagged'] -%}

{#- shares in (0, 1] -#}
{%- for name in ['split_train_share', 'split_validation_share', 'negative_sample_rate',
                 'imbalance_balanced_minority_share', 'imbalance_target_minority_share',
                 'fairness_min_ratio', 'max_quarantine_share'] -%}
    {%- set x = var(name) -%}
    {%- if not (x is number and x is not boolean and 0 < x <= 1) -%}
        {%- do problems.append(name ~ ' = ' ~ x ~ ': must be a number in (0, 1]') -%}
    {%- endif -%}
{%- endfor -%}
{%- set train, validation = var('split_train_share'), var('split_validation_share') -%}
{%- if train is number and validation is number and train + validation >= 1 -%}
    {%- do problems.append('split_train_share + split_validation_share = ' ~ (train + validation)
        ~ ': must be below 1 (the rest is the test split)') -%}
{%- endif -%}

{#- whole numbers with a floor -#}
{%- for name, floor in [
        ('feature_snapshot_days', 1), ('score_backfill_days', 1), ('score_batch_size', 1),
        ('cluster_rounds', 1), ('label_expansion_min_shared', 1),
        ('score_workers', 0), ('max_accounts_per_identifier', 2), ('imbalance_large_data_rows', 1),
        ('performance_label_window_days', 1), ('shadow_outcome_window_days', 1),
        ('monitoring_recompute_days', 1),
        ('fairness_min_expected_count', 0), ('minutes_per_review', 0),
        ('shadow_max_extra_wrongly_blocked', 0),
    ] -%}
    {%- set x = var(name) -%}
    {%- if not (x is integer and x is not boolean and x >= floor) -%}
        {%- do problems.append(name ~ ' = ' ~ x ~ ': must be a whole number >= ' ~ floor) -%}
    {%- endif -%}
{%- endfor -%}

{#- positive numbers -#}
{%- for name in ['drift_psi_threshold', 'drift_js_threshold', 'drift_noise_multiplier',
                 'drift_psi_epsilon', 'score_drift_psi_threshold', 'fairness_min_z',
                 'fairness_max_ratio'] -%}
    {%- set x = var(name) -%}
    {%- if not (x is number and x is not boolean and x > 0) -%}
        {%- do problems.append(name ~ ' = ' ~ x ~ ': must be a number above 0') -%}
    {%- endif -%}
{%- endfor -%}
{%- set max_ratio = var('fairness_max_ratio') -%}
{%- if max_ratio is number and max_ratio < 1 -%}
    {%- do problems.append('fairness_max_ratio = ' ~ max_ratio ~ ': must be at least 1') -%}
{%- endif -%}
{%- set gain = var('shadow_min_spam_fraction_gain') -%}
{%- if not (gain is number and gain is not boolean and -1 <= gain <= 1) -%}
    {%- do problems.append('shadow_min_spam_fraction_gain = ' ~ gain ~ ': must be a number in [-1, 1]') -%}
{%- endif -%}

{#- one of a set -#}
{%- for name, allowed in [
        ('imbalance_strategy', ['auto', 'none', 'class_weights', 'downsample_majority']),
        ('drift_severity', ['warn', 'error']),
    ] -%}
    {%- if var(name) not in allowed -%}
        {%- do problems.append(name ~ " = '" ~ var(name) ~ "': use one of " ~ allowed | join(', ')) -%}
    {%- endif -%}
{%- endfor -%}

{#- lists: not empty, and drawn from a known set -#}
{%- for name, allowed in [
        ('positive_review_decisions', var('accepted_review_decisions')),
        ('negative_review_decisions', var('accepted_review_decisions')),
        ('monitoring_label_sources', label_sources),
        ('performance_label_sources', label_sources),
        ('fairness_label_sources', label_sources),
    ] -%}
    {%- set values = var(name) -%}
    {%- if values is string or values is not iterable or values | length == 0 -%}
        {%- do problems.append(name ~ ' = ' ~ values ~ ': must be a non-empty list') -%}
    {%- else -%}
        {%- set unknown = values | reject('in', allowed) | list -%}
        {%- if unknown -%}
            {%- do problems.append(name ~ ': ' ~ unknown | join(', ') ~ ' not in ' ~ allowed | join(', ')) -%}
        {%- endif -%}
    {%- endif -%}
{%- endfor -%}
{%- set both = var('positive_review_decisions') | select('in', var('negative_review_decisions')) | list -%}
{%- if both -%}
    {%- do problems.append('positive_review_decisions and negative_review_decisions both hold '
        ~ both | join(', ') ~ ': a decision labels one way') -%}
{%- endif -%}

{#- dates -#}
{%- set as_of = var('feature_as_of_date') -%}
{%- if as_of is not none and not modules.re.match('^\d{4}-\d{2}-\d{2}$', as_of | string) -%}
    {%- do problems.append('feature_as_of_date = ' ~ as_of ~ ': must be null or a date YYYY-MM-DD') -%}
{%- endif -%}
{%- if not modules.re.match('^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?$', var('platform_launched_at') | string) -%}
    {%- do problems.append('platform_launched_at = ' ~ var('platform_launched_at')
        ~ ": must be a timestamp 'YYYY-MM-DD HH:MM:SS'") -%}
{%- endif -%}

{%- if problems -%}
    {{ exceptions.raise_compiler_error(
        'invalid project vars (dbt_project.yml or --vars): ' ~ problems | join('; ')) }}
{%- endif -%}
{% endmacro %}
