{% macro create_registry_tables() %}
    {{ return(adapter.dispatch('create_registry_tables', 'botsift')()) }}
{% endmacro %}

{% macro default__create_registry_tables() %}
{#- The registry tables are written by Python (training, build_reference), not by dbt; they
    are dbt sources. Creating them empty here (run by on-run-start) lets a fresh warehouse
    build before the first training. Same DDL as botsift.registry_tables (a unit test compares them). -#}
create schema if not exists registry;
create table if not exists registry.model_versions (
    model_version varchar not null, segment varchar not null, status varchar not null,
    registered_at timestamp not null, promoted_at timestamp, onnx_path varchar not null,
    onnx_sha256 varchar not null, action_threshold double, review_threshold double,
    card json, primary key (model_version, segment));
create table if not exists registry.feature_reference (
    model_version varchar not null, feature varchar not null, is_score boolean not null,
    reference_start_date date, reference_end_date date, n_rows bigint not null,
    null_share double not null, mean double, stdev double, min_value double,
    max_value double, psi_noise double not null, js_noise double not null,
    kl_noise double not null, created_at timestamp not null,
    primary key (model_version, feature));
create table if not exists registry.feature_reference_bins (
    model_version varchar not null, feature varchar not null, bin_index integer not null,
    bin_kind varchar not null, lower double, upper double,
    reference_share double not null, primary key (model_version, feature, bin_index));
{% endmacro %}

{% macro spark__create_registry_tables() %}
{#- Spark runs one statement per call: each is run here and the hook itself renders empty
    (dbt skips an empty hook). -#}
{%- set statements = [
    "create schema if not exists registry",
    "create table if not exists registry.model_versions (
        model_version string, segment string, status string, registered_at timestamp,
        promoted_at timestamp, onnx_path string, onnx_sha256 string, action_threshold double,
        review_threshold double, card string)",
    "create table if not exists registry.feature_reference (
        model_version string, feature string, is_score boolean, reference_start_date date,
        reference_end_date date, n_rows bigint, null_share double, mean double, stdev double,
        min_value double, max_value double, psi_noise double, js_noise double, kl_noise double,
        created_at timestamp)",
    "create table if not exists registry.feature_reference_bins (
        model_version string, feature string, bin_index int, bin_kind string, lower double,
        upper double, reference_share double)",
] -%}
{%- if execute -%}
    {%- for statement in statements -%}
        {%- do run_query(statement) -%}
    {%- endfor -%}
{%- endif -%}
{% endmacro %}
