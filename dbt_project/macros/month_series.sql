{#
  One row per month from `first` to `last` (first days, DATE), as a set-returning select
  expression: `select feed, {{ month_series('min(m)', 'max(m)') }} as m from t group by feed`.
#}
{% macro month_series(first, last) -%}
    {{ return(adapter.dispatch('month_series')(first, last)) }}
{%- endmacro %}

{% macro default__month_series(first, last) -%}
    unnest(generate_series({{ first }}, {{ last }}, interval 1 month))::date
{%- endmacro %}

{# A sequence of dates steps in dates already; a generator cannot be nested in a cast. #}
{% macro spark__month_series(first, last) -%}
    explode(sequence({{ first }}, {{ last }}, interval 1 month))
{%- endmacro %}
