{#-
  One row per contact: last open and click, opens and clicks over the 30 and 90 days up to
  `as_of`, and an engagement tier.

  `as_of` is the var emarsys__as_of, else the latest response in the warehouse (so figures do
  not drift with the wall clock). Tiers, by days since the last open or click: `active`
  (< emarsys__active_days), `lapsing` (< emarsys__lapsing_days), `dormant` (older),
  `never_engaged` (no open or click at all).
-#}
{%- set as_of = var('emarsys__as_of', none) -%}
{%- set active_days = var('emarsys__active_days', 30) | int -%}
{%- set lapsing_days = var('emarsys__lapsing_days', 90) | int -%}

with responses as (
    select * from {{ ref('stg_emarsys__email_responses') }}
),

as_of as (
    select
        {%- if as_of %}
        cast({{ dbt.string_literal(as_of) }} as {{ dbt.type_timestamp() }}) as as_of_at
        {%- else %}
        max(response_at) as as_of_at
        from responses
        {%- endif %}
),

counted as (
    select
        responses.source_relation,
        responses.contact_id,
        max(case when response_type = 'open' then response_at end) as last_open_at,
        max(case when response_type = 'click' then response_at end) as last_click_at,
        {%- for days in [30, 90] %}
        {%- for kind in ['open', 'click'] %}
        sum(case
            when response_type = '{{ kind }}'
                and response_at > {{ dbt.dateadd('day', -days, 'as_of.as_of_at') }}
            then 1 else 0
        end) as {{ kind }}s_last_{{ days }}_days,
        {%- endfor %}
        {%- endfor %}
        sum(case when response_type = 'open' then 1 else 0 end) as opens,
        sum(case when response_type = 'click' then 1 else 0 end) as clicks
    from responses
    cross join as_of
    where responses.response_at <= as_of.as_of_at
    group by responses.source_relation, responses.contact_id
),

sends as (
    select source_relation, contact_id, count(*) as sends
    from {{ ref('stg_emarsys__email_delivery_status') }}
    group by source_relation, contact_id
),

engagement as (
    select
        contacts.source_relation,
        contacts.contact_id,
        contacts.email,
        as_of.as_of_at,
        coalesce(sends.sends, 0) as sends,
        counted.last_open_at,
        counted.last_click_at,
        case
            when counted.last_click_at is null then counted.last_open_at
            when counted.last_open_at is null then counted.last_click_at
            when counted.last_click_at > counted.last_open_at then counted.last_click_at
            else counted.last_open_at
        end as last_engaged_at,
        coalesce(counted.opens, 0) as opens,
        coalesce(counted.clicks, 0) as clicks,
        coalesce(counted.opens_last_30_days, 0) as opens_last_30_days,
        coalesce(counted.clicks_last_30_days, 0) as clicks_last_30_days,
        coalesce(counted.opens_last_90_days, 0) as opens_last_90_days,
        coalesce(counted.clicks_last_90_days, 0) as clicks_last_90_days
    from {{ ref('emarsys__contacts') }} as contacts
    cross join as_of
    left join counted
        on counted.source_relation = contacts.source_relation
        and counted.contact_id = contacts.contact_id
    left join sends
        on sends.source_relation = contacts.source_relation
        and sends.contact_id = contacts.contact_id
)

select
    engagement.*,
    {{ dbt.datediff('last_engaged_at', 'as_of_at', 'day') }} as days_since_last_engaged,
    case
        when last_engaged_at is null then 'never_engaged'
        when last_engaged_at > {{ dbt.dateadd('day', -active_days, 'as_of_at') }} then 'active'
        when last_engaged_at > {{ dbt.dateadd('day', -lapsing_days, 'as_of_at') }} then 'lapsing'
        else 'dormant'
    end as engagement_tier
from engagement
