{% macro score_history_config(incomplete_flag=none) -%}
    {#- The config of a monitoring mart over the score history, called at the top of the model:
        incremental by date, every date from monitoring_recompute_from() on deleted by a
        pre-hook, then computed again (deleted first, so a date that now has no row does not
        keep its old one: a delete+insert alone replaces only the dates it writes). -#}
    {%- set flag = "'" ~ incomplete_flag ~ "'" if incomplete_flag is not none else "" -%}
    {{ config(
        materialized='incremental',
        unique_key='as_of_date',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        pre_hook="{% if is_incremental() %}delete from {{ this }} where as_of_date >= "
                 ~ "{{ botsift.monitoring_recompute_from(" ~ flag ~ ") }}{% endif %}",
    ) }}
{%- endmacro %}
