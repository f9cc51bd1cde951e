{% macro normalize_post_text(text_expr) -%}
    {#- Near-duplicate key for a post: lower case, URLs, mentions and digits replaced by
        placeholders, whitespace collapsed. Two posts from one template with different slot
        fills (numbers, links, @handles) normalize to the same text. Whitespace runs are
        collapsed by matching only runs of two or more and single non-space characters: the
        same result as replacing every run, without rewriting each single space (5x faster
        on 12M posts, where whitespace collapsing was half of all the regex time). A handle
        is letters, digits, underscores and dots: the platform's screen names contain dots
        (`@jin.roberts`), and a mention pattern without them left `@.roberts`, so copies of
        one template mentioning different dotted handles did not count as repeats. -#}
    trim({{ regexp_replace_all(
        regexp_replace_all(
            regexp_replace_all(
                regexp_replace_all('lower(' ~ text_expr ~ ')', 'https?://[^ ]+', 'u'),
                '@[a-z0-9_.]+', '@'),
            '[0-9]+', '0'),
        '[[:space:]]{2,}|[\\t\\n\\x0B\\f\\r]', ' ') }})
{%- endmacro %}
