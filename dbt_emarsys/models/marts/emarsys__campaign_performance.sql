{#- One row per campaign: its launches, sends, bounces by kind, responses and the rates. -#}
with campaigns as (
    select * from {{ ref('stg_emarsys__email_campaigns') }}
),

launches as (
    select
        source_relation,
        campaign_id,
        count(*) as launches,
        sum(case when is_finished then 1 else 0 end) as finished_launches,
        min(launched_at) as first_launched_at,
        max(launched_at) as last_launched_at
    from {{ ref('stg_emarsys__email_launches') }}
    group by source_relation, campaign_id
),

d as (
    select
        source_relation,
        campaign_id,
        {{ emarsys.emarsys_delivery_figures() }}
    from {{ ref('stg_emarsys__email_delivery_status') }}
    group by source_relation, campaign_id
),

r as (
    select
        source_relation,
        campaign_id,
        {{ emarsys.emarsys_response_figures() }},
        max(response_at) as last_response_at
    from {{ ref('stg_emarsys__email_responses') }}
    group by source_relation, campaign_id
)

select
    campaigns.source_relation,
    campaigns.campaign_id,
    campaigns.campaign_name,
    campaigns.subject,
    campaigns.campaign_category,
    campaigns.created_at,
    campaigns.is_deleted,
    coalesce(launches.launches, 0) as launches,
    coalesce(launches.finished_launches, 0) as finished_launches,
    launches.first_launched_at,
    launches.last_launched_at,
    r.last_response_at,
    {{ emarsys.emarsys_performance_columns() }}
from campaigns
left join launches
    on launches.source_relation = campaigns.source_relation
    and launches.campaign_id = campaigns.campaign_id
left join d
    on d.source_relation = campaigns.source_relation
    and d.campaign_id = campaigns.campaign_id
left join r
    on r.source_relation = campaigns.source_relation
    and r.campaign_id = campaigns.campaign_id
