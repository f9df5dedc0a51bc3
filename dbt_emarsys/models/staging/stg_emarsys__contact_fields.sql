{#- One row per contact field of the account, with its column name in the export tables. -#}
{%- set columns = emarsys.emarsys_stream_columns([
      {'name': 'id', 'type': dbt.type_bigint()},
      {'name': 'name', 'type': dbt.type_string()},
      {'name': 'application_type', 'type': dbt.type_string()},
      {'name': 'string_id', 'type': dbt.type_string()},
      {'name': 'property', 'type': dbt.type_string()},
    ]) -%}

with source_rows as (
    {{ emarsys.emarsys_source_rows('contact_fields', columns) }}
),

latest as (
    {{ emarsys.emarsys_latest_per_key('select * from source_rows', ['id']) }}
)

select
    source_relation,
    id as field_id,
    name as field_name,
    application_type,
    string_id,
    property as column_name,
    _sdc_deleted_at is not null as is_deleted,
    {{ emarsys.emarsys_loaded_at() }} as loaded_at
from latest
