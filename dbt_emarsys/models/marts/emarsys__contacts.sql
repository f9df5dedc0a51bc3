{#-
  One row per contact the warehouse knows of: its current field values and its registrations.

  Current values are those of the contact's latest observation: a change (contact_changes, at its
  `last update`, else its window's start), a form registration, or a list or segment snapshot
  (every member row carries the contact's fields as of its snapshot). On equal times a change
  wins over a registration, a registration over a snapshot. Contacts seen only in responses or
  deliveries have null fields.
-#}
{%- set fields = emarsys.emarsys_contact_field_columns() -%}

with observations as (
    select
        source_relation, contact_id, observed_at, 1 as observation_priority,
        'contact_changes' as observed_in
        {%- for field in fields %}, {{ adapter.quote(field.name) }}{% endfor %}
    from {{ ref('stg_emarsys__contact_changes') }}

    union all

    select
        source_relation, contact_id, registered_at, 2, 'contact_registrations'
        {%- for field in fields %}, {{ adapter.quote(field.name) }}{% endfor %}
    from {{ ref('stg_emarsys__contact_registrations') }}

    union all

    select
        source_relation, contact_id, snapshot_at, 3, 'contact_list_members'
        {%- for field in fields %}, {{ adapter.quote(field.name) }}{% endfor %}
    from {{ ref('stg_emarsys__contact_list_members') }}
    where not is_deleted

    union all

    select
        source_relation, contact_id, snapshot_at, 4, 'segment_members'
        {%- for field in fields %}, {{ adapter.quote(field.name) }}{% endfor %}
    from {{ ref('stg_emarsys__segment_members') }}
    where not is_deleted
),

latest_observation as (
    select * from (
        select
            observations.*,
            row_number() over (
                partition by source_relation, contact_id
                order by observed_at desc nulls last, observation_priority
            ) as observation_rank
        from observations
    ) as ranked
    where observation_rank = 1
),

known_contacts as (
    select source_relation, contact_id from observations
    union
    select source_relation, contact_id from {{ ref('stg_emarsys__email_responses') }}
    union
    select source_relation, contact_id from {{ ref('stg_emarsys__email_delivery_status') }}
),

registrations as (
    select
        source_relation,
        contact_id,
        min(registered_at) as first_registered_at,
        max(registered_at) as last_registered_at,
        count(*) as registrations
    from {{ ref('stg_emarsys__contact_registrations') }}
    group by source_relation, contact_id
),

changes as (
    select
        source_relation,
        contact_id,
        max(observed_at) as last_changed_at,
        count(*) as changes
    from {{ ref('stg_emarsys__contact_changes') }}
    group by source_relation, contact_id
)

select
    known_contacts.source_relation,
    known_contacts.contact_id,
    {%- for field in fields %}
    latest_observation.{{ adapter.quote(field.name) }},
    {%- endfor %}
    latest_observation.observed_at as fields_observed_at,
    latest_observation.observed_in as fields_observed_in,
    registrations.first_registered_at,
    registrations.last_registered_at,
    coalesce(registrations.registrations, 0) as registrations,
    changes.last_changed_at,
    coalesce(changes.changes, 0) as changes
from known_contacts
left join latest_observation
    on latest_observation.source_relation = known_contacts.source_relation
    and latest_observation.contact_id = known_contacts.contact_id
left join registrations
    on registrations.source_relation = known_contacts.source_relation
    and registrations.contact_id = known_contacts.contact_id
left join changes
    on changes.source_relation = known_contacts.source_relation
    and changes.contact_id = known_contacts.contact_id
