{#- One row per response (open, click, unsubscribe, ...) of a contact to a campaign. -#}
{%- set columns = emarsys.emarsys_stream_columns([
      {'name': 'contact_id', 'type': dbt.type_bigint()},
      {'name': 'campaign_id', 'type': dbt.type_bigint()},
      {'name': 'source', 'type': dbt.type_string()},
      {'name': 'time', 'type': dbt.type_timestamp()},
      {'name': 'campaign_title', 'type': dbt.type_string()},
      {'name': 'campaign_category', 'type': dbt.type_string()},
      {'name': 'link_title', 'type': dbt.type_string()},
      {'name': 'link_category', 'type': dbt.type_string()},
      {'name': 'url', 'type': dbt.type_string()},
      {'name': 'section_header', 'type': dbt.type_string()},
      {'name': 'section_group', 'type': dbt.type_string()},
      {'name': 'version_name', 'type': dbt.type_string()},
    ]) -%}

with source_rows as (
    {{ emarsys.emarsys_source_rows('email_responses', columns) }}
),

latest as (
    {{ emarsys.emarsys_latest_per_key('select * from source_rows',
                              ['contact_id', 'campaign_id', adapter.quote('source'),
                               adapter.quote('time')]) }}
)

select
    source_relation,
    contact_id,
    campaign_id,
    {{ adapter.quote('source') }} as response_source,
    -- one name per kind of response: the export writes `open`/`click`, the request names the
    -- sources `mail_open`/`trackable_links`
    case lower({{ adapter.quote('source') }})
        when 'mail_open' then 'open'
        when 'trackable_links' then 'click'
        else lower({{ adapter.quote('source') }})
    end as response_type,
    {{ adapter.quote('time') }} as response_at,
    campaign_title,
    campaign_category,
    link_title,
    link_category,
    url,
    section_header,
    section_group,
    version_name,
    {{ emarsys.emarsys_loaded_at() }} as loaded_at
from latest
