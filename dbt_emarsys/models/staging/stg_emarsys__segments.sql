{#- One row per segment of the account. -#}
{{ emarsys.emarsys_stg_audiences('segments', 'segment') }}
