{#-
  Every response with the launch it answers.

  Emarsys' response export names the campaign, not the launch. A response is attributed to the
  latest launch of its campaign, launched on or before the response's day, that the contact was a
  recipient of (email_delivery_status); without such a launch, to the campaign's latest launch on
  or before that day; without that either (a response dated before every launch), to the
  campaign's first launch. A campaign without launches leaves launch_id null.
-#}
with responses as (
    select * from {{ ref('stg_emarsys__email_responses') }}
),

launches as (
    select * from {{ ref('stg_emarsys__email_launches') }}
),

recipients as (
    select distinct source_relation, campaign_id, launch_id, contact_id
    from {{ ref('stg_emarsys__email_delivery_status') }}
),

candidates as (
    select
        responses.source_relation,
        responses.contact_id,
        responses.campaign_id,
        responses.response_source,
        responses.response_type,
        responses.response_at,
        responses.link_title,
        responses.url,
        launches.launch_id,
        case
            when launches.launch_id is null then 'no_launch'
            when recipients.contact_id is not null
                and cast(launches.launched_at as date) <= cast(responses.response_at as date)
                then 'recipient_of_launch'
            when cast(launches.launched_at as date) <= cast(responses.response_at as date)
                then 'latest_launch_before'
            else 'first_launch'
        end as attribution,
        launches.launched_at
    from responses
    left join launches
        on launches.source_relation = responses.source_relation
        and launches.campaign_id = responses.campaign_id
    left join recipients
        on recipients.source_relation = launches.source_relation
        and recipients.launch_id = launches.launch_id
        and recipients.contact_id = responses.contact_id
),

ranked as (
    select
        candidates.*,
        row_number() over (
            partition by source_relation, contact_id, campaign_id, response_source, response_at
            order by
                case attribution
                    when 'recipient_of_launch' then 0
                    when 'latest_launch_before' then 1
                    else 2
                end,
                -- the latest launch before the response; for first_launch the earliest
                case when attribution = 'first_launch' then null else launched_at end
                    desc nulls last,
                launched_at,
                launch_id
        ) as candidate_rank
    from candidates
)

select
    source_relation,
    contact_id,
    campaign_id,
    launch_id,
    attribution,
    response_source,
    response_type,
    response_at,
    link_title,
    url
from ranked
where candidate_rank = 1
