{#- Contact list and segment members in one shape: (audience_type, audience_id, contact_id, snapshot). -#}
select
    source_relation,
    'contact_list' as audience_type,
    contact_list_id as audience_id,
    contact_id,
    snapshot_at,
    deleted_at,
    is_deleted
from {{ ref('stg_emarsys__contact_list_members') }}

union all

select
    source_relation,
    'segment' as audience_type,
    segment_id as audience_id,
    contact_id,
    snapshot_at,
    deleted_at,
    is_deleted
from {{ ref('stg_emarsys__segment_members') }}
