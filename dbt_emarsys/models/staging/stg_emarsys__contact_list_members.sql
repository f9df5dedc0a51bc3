{#- One row per contact list member per snapshot the warehouse still holds (snapshot_at). -#}
{{ emarsys.emarsys_stg_members('contact_list_members', 'contact_list_id') }}
