{#- No staging relation (base, staging or quarantine model) may carry a raw IP address or
    device id: a column whose name has an `ip`/`device` word must end in `_hash`. Reads the
    built relations' columns, so it also fails when a staging relation is missing. Returns one
    row per offending column. -#}
-- depends_on: {{ ref('base_platform__accounts') }}
-- depends_on: {{ ref('base_platform__posts') }}
-- depends_on: {{ ref('base_platform__logins') }}
-- depends_on: {{ ref('base_platform__follows') }}
-- depends_on: {{ ref('base_platform__interactions') }}
-- depends_on: {{ ref('base_ops__reviews') }}
-- depends_on: {{ ref('stg_platform__accounts') }}
-- depends_on: {{ ref('stg_platform__posts') }}
-- depends_on: {{ ref('stg_platform__logins') }}
-- depends_on: {{ ref('stg_platform__follows') }}
-- depends_on: {{ ref('stg_platform__interactions') }}
-- depends_on: {{ ref('stg_ops__reviews') }}
-- depends_on: {{ ref('stg_raw__quarantined_rows') }}
{%- set identifier_word = modules.re.compile('(^|_)(ip|ips|ip_address|ipv4|ipv6|device|device_id|devices)(_|$)') -%}
{%- set offenders = [] -%}
{%- if execute -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.package_name == project_name and 'staging' in node.fqn -%}
        {%- set relation = adapter.get_relation(
            database=node.database, schema=node.schema, identifier=node.alias) -%}
        {%- if relation is none -%}
            {%- do offenders.append((node.name, '(relation not built)')) -%}
        {%- else -%}
            {%- for column in adapter.get_columns_in_relation(relation) -%}
                {%- set column_name = column.name | lower -%}
                {%- if identifier_word.search(column_name) and not column_name.endswith('_hash') -%}
                    {%- do offenders.append((node.name, column_name)) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif %}

with

offending_columns as (

    {% for model_name, column_name in offenders %}
    select
        '{{ model_name }}' as model_name,
        '{{ column_name }}' as column_name
    union all
    {% endfor %}
    select
        cast(null as {{ dbt.type_string() }}) as model_name,
        cast(null as {{ dbt.type_string() }}) as column_name

),

final as (

    select * from offending_columns
    where model_name is not null

)

select * from final
