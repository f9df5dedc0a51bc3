{#- One row per form registration of a contact. -#}
{%- set fields = emarsys.emarsys_contact_field_columns() -%}
{%- set columns = emarsys.emarsys_stream_columns([
      {'name': 'contact_id', 'type': dbt.type_bigint()},
      {'name': 'last_update', 'type': dbt.type_timestamp()},
    ], with_fields=true) -%}

with source_rows as (
    {{ emarsys.emarsys_source_rows('contact_registrations', columns) }}
),

latest as (
    {{ emarsys.emarsys_latest_per_key('select * from source_rows', ['contact_id', 'last_update']) }}
)

select
    source_relation,
    contact_id,
    last_update as registered_at,
    {%- for field in fields %}
    {{ adapter.quote(field.name) }},
    {%- endfor %}
    {{ emarsys.emarsys_loaded_at() }} as loaded_at
from latest
