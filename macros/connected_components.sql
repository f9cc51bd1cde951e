{% macro connected_components(edges, node_column, key_column, max_rounds=none) -%}
    {#- Connected components of a bipartite node-key graph (`edges` yields one row per node
        and key it touches): select node_column, component_id (the smallest node id in the
        component) for every node that appears in `edges`. -#}
    {{ return(adapter.dispatch('connected_components', 'botsift')(edges, node_column, key_column, max_rounds)) }}
{%- endmacro %}

{% macro duckdb__connected_components(edges, node_column, key_column, max_rounds) -%}
    {#- Exact: min-label propagation to a fixed point with a recursive CTE keyed on the node
        (USING KEY keeps one row per node; each round only propagates the nodes whose label
        fell in the round before), so long chains converge however many hops they take. -#}
    select * from (
        with recursive components({{ node_column }}, component_id) using key ({{ node_column }}) as (

            select distinct {{ node_column }}, {{ node_column }} as component_id
            from {{ edges }}

            union

            select
                neighbour.{{ node_column }},
                min(components.component_id) as component_id
            from components
            inner join {{ edges }} as own_edges
                on own_edges.{{ node_column }} = components.{{ node_column }}
            inner join {{ edges }} as neighbour
                on neighbour.{{ key_column }} = own_edges.{{ key_column }}
            inner join recurring.components as current_label
                on current_label.{{ node_column }} = neighbour.{{ node_column }}
            group by neighbour.{{ node_column }}, current_label.component_id
            having min(components.component_id) < current_label.component_id

        )
        select {{ node_column }}, component_id from components
    ) as converged_components
{%- endmacro %}

{% macro default__connected_components(edges, node_column, key_column, max_rounds) -%}
    {#- Portable (no recursive CTE, as on Spark 3): `max_rounds` rounds of min-label
        propagation through the keys (each round moves labels one node-key-node hop). Each
        round reads the previous one once, so the plan grows linearly with the rounds: Spark
        inlines deterministic CTEs, and a round that read its predecessor twice (a pointer
        jump, or re-joining the previous labels) would double the plan every round. The
        clusters convergence test fails, naming the var, if the rounds were too few. -#}
    {%- set rounds = max_rounds if max_rounds is not none else var('cluster_rounds') -%}
    with
    round_0 as (
        select distinct {{ node_column }}, {{ node_column }} as component_id from {{ edges }}
    ),
    {% for i in range(1, rounds + 1) %}
    key_min_{{ i }} as (
        select edges.{{ key_column }}, min(round_{{ i - 1 }}.component_id) as component_id
        from {{ edges }} as edges
        inner join round_{{ i - 1 }}
            on edges.{{ node_column }} = round_{{ i - 1 }}.{{ node_column }}
        group by edges.{{ key_column }}
    ),
    round_{{ i }} as (
        select
            edges.{{ node_column }},
            min(key_min_{{ i }}.component_id) as component_id
        from {{ edges }} as edges
        inner join key_min_{{ i }}
            on edges.{{ key_column }} = key_min_{{ i }}.{{ key_column }}
        group by edges.{{ node_column }}
    ){{ ',' if not loop.last }}
    {% endfor %}
    select {{ node_column }}, component_id from round_{{ rounds }}
{%- endmacro %}
