{#- Contact lists and segments are the same shapes under two names: one staging body each. -#}

{#- One row per list or segment of the account; `entity` is `contact_list` or `segment`. -#}
{% macro emarsys_stg_audiences(stream, entity) -%}
{%- set columns = emarsys.emarsys_stream_columns([
      {'name': 'id', 'type': dbt.type_bigint()},
      {'name': 'name', 'type': dbt.type_string()},
      {'name': 'created', 'type': dbt.type_timestamp()},
    ]) -%}

with source_rows as (
    {{ emarsys.emarsys_source_rows(stream, columns) }}
),

latest as (
    {{ emarsys.emarsys_latest_per_key('select * from source_rows', ['id']) }}
)

select
    source_relation,
    id as {{ entity }}_id,
    name as {{ entity }}_name,
    created as created_at,
    _sdc_deleted_at is not null as is_deleted,
    {{ emarsys.emarsys_loaded_at() }} as loaded_at
from latest
{%- endmacro %}

{#- One row per member of a list or segment per snapshot the warehouse still holds. -#}
{% macro emarsys_stg_members(stream, audience_id) -%}
{%- set fields = emarsys.emarsys_contact_field_columns() -%}
{%- set columns = emarsys.emarsys_stream_columns([
      {'name': audience_id, 'type': dbt.type_bigint()},
      {'name': 'contact_id', 'type': dbt.type_bigint()},
      {'name': 'snapshot_at', 'type': dbt.type_timestamp()},
    ], with_fields=true) -%}

with source_rows as (
    select
        *,
        -- rows of a tap without snapshot_at fall back on their load time
        coalesce(snapshot_at, {{ emarsys.emarsys_loaded_at() }}) as member_snapshot_at
    from ({{ emarsys.emarsys_source_rows(stream, columns) }}) as unioned
),

latest as (
    {{ emarsys.emarsys_latest_per_key('select * from source_rows',
                              [audience_id, 'contact_id', 'member_snapshot_at']) }}
)

select
    source_relation,
    {{ audience_id }},
    contact_id,
    member_snapshot_at as snapshot_at,
    _sdc_deleted_at as deleted_at,
    _sdc_deleted_at is not null as is_deleted,
    {%- for field in fields %}
    {{ adapter.quote(field.name) }},
    {%- endfor %}
    {{ emarsys.emarsys_loaded_at() }} as loaded_at
from latest
{%- endmacro %}
