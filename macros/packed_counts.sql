{#- Two daily counts summed by one window aggregate.

    A window SUM over a row frame is the expensive part of fct_account_features: DuckDB pays
    about the same per row for each aggregate whatever the frame, so 1M accounts x 30 days x
    29 aggregates was 40% of the feature build. Two non-negative whole-number counts packed
    as `low + high * 2^26` in one DOUBLE add up lane by lane, exactly: every partial sum is
    an integer below 2^53, which a double holds without rounding, in any order of addition.
    The low lane stays below 2^26 (67,108,864) over a frame of up to 32 days as long as each
    daily count stays below 2^21 (2,097,152), and the high lane below 2^27, the bound that
    assert_int_accounts__daily_activity__counts_fit_packed_lanes enforces (a build that
    breaks it fails there, before any feature is built). Packing is plain arithmetic and
    floor(), so Spark computes the same numbers.
-#}

{% macro packed_lane_width() -%}
    cast(67108864 as double)
{%- endmacro %}

{% macro packed_daily_count_limit() -%}
    {#- Largest daily count a packed lane accepts: 30 days of it must stay below 2^26. -#}
    2097151
{%- endmacro %}

{% macro pack_counts(low, high) -%}
    ({{ low }} + {{ high }} * {{ botsift.packed_lane_width() }})
{%- endmacro %}

{% macro unpack_high(packed) -%}
    {#- a double on every engine (Spark's floor() returns a BIGINT, and a BIGINT divided by a
        decimal literal such as 7.0 is decimal arithmetic there) -#}
    cast(floor({{ packed }} / {{ botsift.packed_lane_width() }}) as double)
{%- endmacro %}

{% macro unpack_low(packed) -%}
    ({{ packed }} - {{ botsift.unpack_high(packed) }} * {{ botsift.packed_lane_width() }})
{%- endmacro %}

{% macro packed_trailing_counts() -%}
    {#- The trailing-window counts fct_account_features sums two to an aggregate, by frame
        length in days: [low, high] column pairs of its grid (high none for an odd one out).
        Frames are at most 30 days (see the lane bound above). Every column but
        count_posting_days (0 or 1 a day) is an int_accounts__daily_activity count, checked
        against packed_daily_count_limit() by
        assert_int_accounts__daily_activity__counts_fit_packed_lanes. -#}
    {{ return({
        7: [
            ['count_posts', 'count_repeat_posts'],
            ['count_active_minutes', 'count_distinct_reached'],
            ['count_logins', 'count_follows_made'],
            ['count_interactions', none],
        ],
        30: [
            ['count_posts', 'count_repeat_posts'],
            ['count_reply_posts', 'count_url_posts'],
            ['count_mentions', 'count_night_posts'],
            ['count_gaps', 'count_distinct_reached'],
            ['count_logins', 'count_failed_logins'],
            ['count_co_logins', 'count_follows_made'],
            ['count_mutual_formed', 'count_posting_days'],
        ],
    }) }}
{%- endmacro %}
