{#- One row per launch of a campaign. -#}
{%- set columns = emarsys.emarsys_stream_columns([
      {'name': 'email_id', 'type': dbt.type_bigint()},
      {'name': 'id', 'type': dbt.type_bigint()},
      {'name': 'done', 'type': dbt.type_string()},
      {'name': 'launch_date', 'type': dbt.type_string()},
    ]) -%}

with source_rows as (
    {{ emarsys.emarsys_source_rows('email_launches', columns) }}
),

latest as (
    {{ emarsys.emarsys_latest_per_key('select * from source_rows', ['email_id', 'id']) }}
)

select
    source_relation,
    email_id as campaign_id,
    id as launch_id,
    lower(done) = 'y' as is_finished,
    -- `launch_date` is the account's local date (or date and time) of the launch
    {{ dbt.safe_cast('launch_date', dbt.type_timestamp()) }} as launched_at,
    {{ emarsys.emarsys_loaded_at() }} as loaded_at
from latest
