{#- One row per contact list of the account. -#}
{%- set columns = emarsys.emarsys_stream_columns([
      {'name': 'id', 'type': dbt.type_bigint()},
      {'name': 'name', 'type': dbt.type_string()},
      {'name': 'created', 'type': dbt.type_timestamp()},
    ]) -%}

with source_rows as (
    {{ emarsys.emarsys_source_rows('contact_lists', columns) }}
),

latest as (
    {{ emarsys.emarsys_latest_per_key('select * from source_rows', ['id']) }}
)

select
    source_relation,
    id as contact_list_id,
    name as contact_list_name,
    created as created_at,
    _sdc_deleted_at is not null as is_deleted,
    {{ emarsys.emarsys_loaded_at() }} as loaded_at
from latest
