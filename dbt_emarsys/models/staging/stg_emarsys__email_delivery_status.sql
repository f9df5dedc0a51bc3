{#- One row per recipient of a launch: sent, and bounced or not. -#}
{%- set columns = emarsys.emarsys_stream_columns([
      {'name': 'email_id', 'type': dbt.type_bigint()},
      {'name': 'launch_id', 'type': dbt.type_bigint()},
      {'name': 'id', 'type': dbt.type_bigint()},
      {'name': 'contact_id', 'type': dbt.type_bigint()},
      {'name': 'status', 'type': dbt.type_string()},
      {'name': 'bounce_reason', 'type': dbt.type_string()},
      {'name': 'mail_type', 'type': dbt.type_string()},
    ]) -%}

with source_rows as (
    {{ emarsys.emarsys_source_rows('email_delivery_status', columns) }}
),

latest as (
    {{ emarsys.emarsys_latest_per_key('select * from source_rows', ['email_id', 'launch_id', 'id']) }}
)

select
    source_relation,
    email_id as campaign_id,
    launch_id,
    id as delivery_id,
    contact_id,
    lower(status) as delivery_status,
    nullif(lower(bounce_reason), '') as bounce_type,
    (lower(status) = 'bounced' or nullif(bounce_reason, '') is not null) as is_bounced,
    mail_type,
    {{ emarsys.emarsys_loaded_at() }} as loaded_at
from latest
