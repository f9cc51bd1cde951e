{% macro psi_bin_term(current_share, reference_share, epsilon=none) -%}
    {#- One bin's term of the population stability index: (c - r) * ln(c / r), both shares
        floored at `epsilon` (default var drift_psi_epsilon); 0 for a bin empty on both
        sides. Sum it over the bins. botsift.drift.psi is the same formula in Python (the
        noise floors in the registry come from it). -#}
    {%- set eps = epsilon if epsilon is not none else var('drift_psi_epsilon') -%}
    case
        when {{ current_share }} > 0 or {{ reference_share }} > 0
            then (greatest({{ current_share }}, {{ eps }}) - greatest({{ reference_share }}, {{ eps }}))
                * ln(greatest({{ current_share }}, {{ eps }}) / greatest({{ reference_share }}, {{ eps }}))
        else 0
    end
{%- endmacro %}
