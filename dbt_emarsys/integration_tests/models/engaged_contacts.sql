{#-
  A model of your own on top of the package: the contacts who opened or clicked within the
  last 90 days, to send back into Emarsys (`make demo` loads it into an RDS table with
  target-emarsys).
-#}
select
    contacts.source_relation,
    contacts.contact_id,
    contacts.email,
    contacts.first_name,
    contacts.last_name,
    engagement.engagement_tier,
    engagement.opens_last_30_days,
    engagement.clicks_last_30_days,
    engagement.last_engaged_at
from {{ ref('emarsys__contact_engagement') }} as engagement
inner join {{ ref('emarsys__contacts') }} as contacts
    on contacts.source_relation = engagement.source_relation
    and contacts.contact_id = engagement.contact_id
where engagement.engagement_tier in ('active', 'lapsing')
    and contacts.email is not null
