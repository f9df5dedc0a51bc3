{#- One row per segment member per snapshot the warehouse still holds (snapshot_at). -#}
{{ emarsys.emarsys_stg_members('segment_members', 'segment_id') }}
