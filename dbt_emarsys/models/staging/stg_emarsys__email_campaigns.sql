{#- One row per email campaign, deleted ones included. -#}
{%- set columns = emarsys.emarsys_stream_columns([
      {'name': 'id', 'type': dbt.type_bigint()},
      {'name': 'name', 'type': dbt.type_string()},
      {'name': 'subject', 'type': dbt.type_string()},
      {'name': 'language', 'type': dbt.type_string()},
      {'name': 'email_category', 'type': dbt.type_string()},
      {'name': 'status', 'type': dbt.type_string()},
      {'name': 'api_status', 'type': dbt.type_string()},
      {'name': 'content_type', 'type': dbt.type_string()},
      {'name': 'source', 'type': dbt.type_string()},
      {'name': 'fromemail', 'type': dbt.type_string()},
      {'name': 'fromname', 'type': dbt.type_string()},
      {'name': 'root_campaign_id', 'type': dbt.type_bigint()},
      {'name': 'created', 'type': dbt.type_timestamp()},
      {'name': 'deleted', 'type': dbt.type_timestamp()},
    ]) -%}

with source_rows as (
    {{ emarsys.emarsys_source_rows('email_campaigns', columns) }}
),

latest as (
    {{ emarsys.emarsys_latest_per_key('select * from source_rows', ['id']) }}
)

select
    source_relation,
    id as campaign_id,
    name as campaign_name,
    subject,
    language,
    email_category as campaign_category,
    status,
    api_status,
    content_type,
    {{ adapter.quote('source') }} as created_via,
    fromemail as from_email,
    fromname as from_name,
    root_campaign_id,
    created as created_at,
    deleted as deleted_at,
    -- deleted in Emarsys, or gone from the account (a loader's soft delete)
    (deleted is not null or _sdc_deleted_at is not null) as is_deleted,
    {{ emarsys.emarsys_loaded_at() }} as loaded_at
from latest
