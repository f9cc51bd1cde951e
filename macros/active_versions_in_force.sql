{% macro active_versions_in_force(scores) -%}
    {#- One row per as_of_date of `scores` (a relation or CTE with as_of_date, model_version,
        deployment_status and scored_at): the active version in force on that date, the one
        that scored it most recently. An older active version's rows for the date stay in
        the score history; ties go to the larger model_version. -#}
    select
        as_of_date,
        model_version
    from (
        select
            as_of_date,
            model_version,
            row_number() over (
                partition by as_of_date order by max(scored_at) desc, model_version desc
            ) as version_rank
        from {{ scores }}
        where deployment_status = 'active'
        group by as_of_date, model_version
    ) as ranked_versions
    where version_rank = 1
{%- endmacro %}
