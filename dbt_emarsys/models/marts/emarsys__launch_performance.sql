{#-
  One row per launch: its sends and bounces (email_delivery_status is per launch) and the
  responses attributed to it (see int_emarsys__responses_attributed for the rule).
-#}
with launches as (
    select * from {{ ref('stg_emarsys__email_launches') }}
),

campaigns as (
    select * from {{ ref('stg_emarsys__email_campaigns') }}
),

d as (
    select
        source_relation,
        campaign_id,
        launch_id,
        {{ emarsys.emarsys_delivery_figures() }}
    from {{ ref('stg_emarsys__email_delivery_status') }}
    group by source_relation, campaign_id, launch_id
),

r as (
    select
        source_relation,
        campaign_id,
        launch_id,
        {{ emarsys.emarsys_response_figures() }}
    from {{ ref('int_emarsys__responses_attributed') }}
    where launch_id is not null
    group by source_relation, campaign_id, launch_id
)

select
    launches.source_relation,
    launches.launch_id,
    launches.campaign_id,
    campaigns.campaign_name,
    launches.launched_at,
    launches.is_finished,
    {{ emarsys.emarsys_performance_columns() }}
from launches
left join campaigns
    on campaigns.source_relation = launches.source_relation
    and campaigns.campaign_id = launches.campaign_id
left join d
    on d.source_relation = launches.source_relation
    and d.campaign_id = launches.campaign_id
    and d.launch_id = launches.launch_id
left join r
    on r.source_relation = launches.source_relation
    and r.campaign_id = launches.campaign_id
    and r.launch_id = launches.launch_id
