{#- One row per contact list of the account. -#}
{{ emarsys.emarsys_stg_audiences('contact_lists', 'contact_list') }}
