{#- One row per segment member per snapshot the warehouse still holds (snapshot_at). -#}
{%- set fields = emarsys.emarsys_contact_field_columns() -%}
{%- set columns = emarsys.emarsys_stream_columns([
      {'name': 'segment_id', 'type': dbt.type_bigint()},
      {'name': 'contact_id', 'type': dbt.type_bigint()},
      {'name': 'snapshot_at', 'type': dbt.type_timestamp()},
    ], with_fields=true) -%}

with source_rows as (
    select
        *,
        -- rows of a tap without snapshot_at fall back on their load time
        coalesce(snapshot_at, {{ emarsys.emarsys_loaded_at() }}) as member_snapshot_at
    from ({{ emarsys.emarsys_source_rows('segment_members', columns) }}) as unioned
),

latest as (
    {{ emarsys.emarsys_latest_per_key('select * from source_rows',
                              ['segment_id', 'contact_id', 'member_snapshot_at']) }}
)

select
    source_relation,
    segment_id,
    contact_id,
    member_snapshot_at as snapshot_at,
    _sdc_deleted_at as deleted_at,
    _sdc_deleted_at is not null as is_deleted,
    {%- for field in fields %}
    {{ adapter.quote(field.name) }},
    {%- endfor %}
    {{ emarsys.emarsys_loaded_at() }} as loaded_at
from latest
