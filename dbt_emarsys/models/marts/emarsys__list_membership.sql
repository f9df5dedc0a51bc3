{#-
  One row per spell of a contact in a contact list or segment: when it joined, when it left,
  whether it is a member now.

  The tap takes one snapshot of every list and segment per run (snapshot_at). A member's spell
  runs over consecutive snapshots of its audience that hold it: `joined_at` is the first of
  them, `last_seen_at` the last, `left_at` the audience's next snapshot (the first without the
  member), else, for a row a loader soft-deleted (ACTIVATE_VERSION), its `_sdc_deleted_at`.
  `is_current_member`: seen in the audience's latest snapshot and not deleted. A loader that
  upserts by key keeps only a member's latest snapshot: joins before it are not known, so
  `joined_at` is then the earliest snapshot the warehouse still holds for the member.
-#}
with members as (
    select * from {{ ref('int_emarsys__audience_members') }}
),

audience_snapshots as (
    select
        source_relation,
        audience_type,
        audience_id,
        snapshot_at,
        row_number() over (
            partition by source_relation, audience_type, audience_id order by snapshot_at
        ) as snapshot_number,
        lead(snapshot_at) over (
            partition by source_relation, audience_type, audience_id order by snapshot_at
        ) as next_snapshot_at
    from (
        select distinct source_relation, audience_type, audience_id, snapshot_at from members
    ) as snapshots
),

presence as (
    select
        members.*,
        audience_snapshots.snapshot_number,
        audience_snapshots.next_snapshot_at,
        -- consecutive snapshots of one member share this number (gaps and islands)
        audience_snapshots.snapshot_number - row_number() over (
            partition by members.source_relation, members.audience_type, members.audience_id,
                members.contact_id
            order by audience_snapshots.snapshot_number
        ) as spell_number
    from members
    inner join audience_snapshots
        on audience_snapshots.source_relation = members.source_relation
        and audience_snapshots.audience_type = members.audience_type
        and audience_snapshots.audience_id = members.audience_id
        and audience_snapshots.snapshot_at = members.snapshot_at
),

spell_ends as (
    select * from (
        select
            presence.*,
            min(snapshot_at) over (
                partition by source_relation, audience_type, audience_id, contact_id, spell_number
            ) as joined_at,
            row_number() over (
                partition by source_relation, audience_type, audience_id, contact_id, spell_number
                order by snapshot_number desc
            ) as from_spell_end
        from presence
    ) as spells
    where from_spell_end = 1
),

audience_names as (
    select source_relation, 'contact_list' as audience_type, contact_list_id as audience_id,
        contact_list_name as audience_name
    from {{ ref('stg_emarsys__contact_lists') }}
    union all
    select source_relation, 'segment', segment_id, segment_name
    from {{ ref('stg_emarsys__segments') }}
)

select
    {{ dbt.concat([
        'spell_ends.source_relation', "'|'", 'spell_ends.audience_type', "'|'",
        dbt.cast('spell_ends.audience_id', dbt.type_string()), "'|'",
        dbt.cast('spell_ends.contact_id', dbt.type_string()), "'|'",
        dbt.cast('spell_ends.joined_at', dbt.type_string())]) }} as membership_id,
    spell_ends.source_relation,
    spell_ends.audience_type,
    spell_ends.audience_id,
    audience_names.audience_name,
    spell_ends.contact_id,
    spell_ends.joined_at,
    spell_ends.snapshot_at as last_seen_at,
    coalesce(spell_ends.next_snapshot_at, spell_ends.deleted_at) as left_at,
    (spell_ends.next_snapshot_at is null and not spell_ends.is_deleted) as is_current_member
from spell_ends
left join audience_names
    on audience_names.source_relation = spell_ends.source_relation
    and audience_names.audience_type = spell_ends.audience_type
    and audience_names.audience_id = spell_ends.audience_id
