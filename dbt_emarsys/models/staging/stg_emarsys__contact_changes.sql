{#- One row per contact and export window: the contact's field values as changed in it. -#}
{%- set fields = emarsys.emarsys_contact_field_columns() -%}
{%- set columns = emarsys.emarsys_stream_columns([
      {'name': 'contact_id', 'type': dbt.type_bigint()},
      {'name': 'window_start', 'type': dbt.type_timestamp()},
      {'name': 'last_update', 'type': dbt.type_timestamp()},
    ], with_fields=true) -%}

with source_rows as (
    {{ emarsys.emarsys_source_rows('contact_changes', columns) }}
),

latest as (
    {{ emarsys.emarsys_latest_per_key('select * from source_rows', ['contact_id', 'window_start'],
                              ['last_update desc nulls last']) }}
)

select
    source_relation,
    contact_id,
    window_start,
    last_update as changed_at,
    -- some accounts' exports carry no `last update` (docs/emarsys-api.md §12.2): the window
    -- start orders their changes instead
    coalesce(last_update, window_start) as observed_at,
    {%- for field in fields %}
    {{ adapter.quote(field.name) }},
    {%- endfor %}
    {{ emarsys.emarsys_loaded_at() }} as loaded_at
from latest
