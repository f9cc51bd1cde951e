{% macro js_bin_term(current_share, reference_share) -%}
    {#- One bin's term of the Jensen-Shannon divergence in bits: half of each share's
        Kullback-Leibler term against their mixture. Sum it over the bins (the sum is in
        [0, 1]). botsift.drift.js_divergence is the same formula in Python. -#}
    (
        case
            when {{ current_share }} > 0
                then 0.5 * {{ current_share }}
                    * ln({{ current_share }} / (({{ current_share }} + {{ reference_share }}) / 2))
            else 0
        end
        + case
            when {{ reference_share }} > 0
                then 0.5 * {{ reference_share }}
                    * ln({{ reference_share }} / (({{ current_share }} + {{ reference_share }}) / 2))
            else 0
        end
    ) / ln(2)
{%- endmacro %}
