{# A JSON object's string field, e.g. json_string('path_fields', 'month'); NULL when absent. #}
{% macro json_string(json_column, field) -%}
    {{ return(adapter.dispatch('json_string')(json_column, field)) }}
{%- endmacro %}

{% macro default__json_string(json_column, field) -%}
    json_extract_string({{ json_column }}, '$.{{ field }}')
{%- endmacro %}

{% macro spark__json_string(json_column, field) -%}
    get_json_object({{ json_column }}, '$.{{ field }}')
{%- endmacro %}
