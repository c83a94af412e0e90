{#
  A DOUBLE rounded to `places` decimals as DuckDB rounds it: its exact binary value, halves away
  from zero (round(2.00005, 4) is 2.0: the double 2.00005 is 2.0000499999...).
#}
{% macro round_half_away(value, places) -%}
    {{ return(adapter.dispatch('round_half_away')(value, places)) }}
{%- endmacro %}

{% macro default__round_half_away(value, places) -%}
    round({{ value }}, {{ places }})
{%- endmacro %}

{#
  Spark rounds the shortest decimal that prints the double (2.00005 to 2.0001). Here the value is
  scaled by 10^places (p, a rounded product) and p rounded to an integer, which agrees with the
  exact product except when p is exactly a half: then the product's rounding error (Dekker's
  exact product, the value split in two 26-bit halves) says on which side the exact value lies.
#}
{% macro spark__round_half_away(value, places) -%}
    {%- set scale = '1e' ~ places -%}
    {%- set p = '((' ~ value ~ ') * ' ~ scale ~ ')' -%}
    {%- set split = '(134217729d * (' ~ value ~ '))' -%}
    {%- set high = '(' ~ split ~ ' - (' ~ split ~ ' - (' ~ value ~ ')))' -%}
    {%- set error = '((' ~ high ~ ' * ' ~ scale ~ ' - ' ~ p ~ ') + ((' ~ value ~ ') - ' ~ high ~ ') * ' ~ scale ~ ')' -%}
    case when {{ p }} - floor({{ p }}) = 0.5d and {{ error }} > 0d then ceil({{ p }}) / {{ scale }}
         when {{ p }} - floor({{ p }}) = 0.5d and {{ error }} < 0d then floor({{ p }}) / {{ scale }}
         else round({{ p }}) / {{ scale }} end
{%- endmacro %}
