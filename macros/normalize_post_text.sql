{% macro normalize_post_text(text_expr) -%}
    {#- Near-duplicate key for a post: lower case, URLs, mentions and digits replaced by
        placeholders, whitespace collapsed. Two posts from one template with different slot
        fills (numbers, links, @handles) normalize to the same text. -#}
    trim({{ regexp_replace_all(
        regexp_replace_all(
            regexp_replace_all(
                regexp_replace_all('lower(' ~ text_expr ~ ')', 'https?://[^ ]+', 'u'),
                '@[a-z0-9_]+', '@'),
            '[0-9]+', '0'),
        '[[:space:]]+', ' ') }})
{%- endmacro %}
