{#-
  The rows of one tap-emarsys table, typed, from every account schema, with `source_relation`.

  Columns the table lacks (a stream that loaded no row yet, a contact field the account does not
  export, loader metadata that is switched off) come out as typed nulls, so every staging model
  compiles on any account. `columns` is a list of {name, type, alias?}.
-#}
{% macro emarsys_source_rows(table_name, columns) %}
  {%- set base = source('emarsys', table_name) -%}
  {%- set schemas = var('emarsys__union_schemas', []) -%}
  {%- set relations = [] -%}
  {%- if schemas | length > 0 -%}
    {%- for schema in schemas -%}
      {%- do relations.append(api.Relation.create(
            database=var('emarsys__database', none) or target.database,
            schema=schema, identifier=base.identifier)) -%}
    {%- endfor -%}
  {%- else -%}
    {%- do relations.append(base) -%}
  {%- endif -%}
  {%- for relation in relations %}
    {%- set present = emarsys.emarsys_present_columns(relation) %}
    select
      cast({{ dbt.string_literal(relation.schema) }} as {{ dbt.type_string() }}) as source_relation
      {%- for column in columns %},
      {% if column.name | lower in present -%}
        cast({{ adapter.quote(column.name) }} as {{ column.type }})
      {%- else -%}
        cast(null as {{ column.type }})
      {%- endif %} as {{ adapter.quote(column.alias or column.name) }}
      {%- endfor %}
    {% if present is none -%}
    where 1 = 0
    {%- else -%}
    from {{ relation }}
    {%- endif %}
    {% if not loop.last %}union all{% endif %}
  {%- endfor %}
{% endmacro %}


{#-
  Lower-case names of the relation's columns, or none when it does not exist.

  dbt unit tests replace sources by fixtures that are not in the warehouse: with the var
  `emarsys__columns_present` (a list, set in the unit test's overrides) no warehouse is asked.
-#}
{% macro emarsys_present_columns(relation) %}
  {%- set assumed = var('emarsys__columns_present', none) -%}
  {%- if assumed is not none -%}
    {{ return(assumed | map('lower') | list) }}
  {%- endif -%}
  {%- if not execute -%}
    {{ return([]) }}
  {%- endif -%}
  {%- set found = adapter.get_relation(
        database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
  {%- if found is none -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set names = [] -%}
  {%- for column in adapter.get_columns_in_relation(found) -%}
    {%- do names.append(column.name | lower) -%}
  {%- endfor -%}
  {{ return(names) }}
{% endmacro %}


{#- The SQL type for a contact field's declared kind (string, numeric, date, timestamp, boolean). -#}
{% macro emarsys_field_type(kind) %}
  {%- set types = {
        'string': dbt.type_string(),
        'numeric': dbt.type_numeric(),
        'number': dbt.type_numeric(),
        'integer': dbt.type_bigint(),
        'date': 'date',
        'timestamp': dbt.type_timestamp(),
        'boolean': dbt.type_boolean(),
      } -%}
  {%- if kind not in types -%}
    {{ exceptions.raise_compiler_error(
        "emarsys__contact_custom_fields: type '" ~ kind ~ "' is not one of "
        ~ (types.keys() | list | join(', ')) ~ "; fix the var in dbt_project.yml") }}
  {%- endif -%}
  {{ return(types[kind]) }}
{% endmacro %}


{#- The custom contact fields of the var as {name, type} columns. -#}
{% macro emarsys_custom_field_columns() %}
  {%- set columns = [] -%}
  {%- for field in var('emarsys__contact_custom_fields', []) -%}
    {%- if field is string -%}
      {%- do columns.append({'name': field, 'type': dbt.type_string()}) -%}
    {%- else -%}
      {%- do columns.append({'name': field['name'],
                             'type': emarsys.emarsys_field_type(field.get('type', 'string'))}) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(columns) }}
{% endmacro %}


{#- The contact fields every account has and the package always carries (null when not exported). -#}
{% macro emarsys_core_field_columns() %}
  {{ return([
      {'name': 'email', 'type': dbt.type_string()},
      {'name': 'first_name', 'type': dbt.type_string()},
      {'name': 'last_name', 'type': dbt.type_string()},
      {'name': 'optin', 'type': dbt.type_string()},
  ]) }}
{% endmacro %}


{#- Loader metadata (singer loaders' record metadata), null when the loader writes none. -#}
{% macro emarsys_loader_columns() %}
  {{ return([
      {'name': '_sdc_extracted_at', 'type': dbt.type_timestamp()},
      {'name': '_sdc_batched_at', 'type': dbt.type_timestamp()},
      {'name': '_sdc_deleted_at', 'type': dbt.type_timestamp()},
  ]) }}
{% endmacro %}


{#- The row's load time: the loader's batch time, else its extraction time. -#}
{% macro emarsys_loaded_at() %}
  coalesce(_sdc_batched_at, _sdc_extracted_at)
{% endmacro %}


{#- Keep one row per key: not soft-deleted first, then the latest load, then `tiebreak`. -#}
{% macro emarsys_latest_per_key(relation_sql, keys, tiebreak=[]) %}
  select * from (
    select
      ranked_source.*,
      row_number() over (
        partition by source_relation, {{ keys | join(', ') }}
        order by
          case when _sdc_deleted_at is null then 0 else 1 end,
          {{ emarsys.emarsys_loaded_at() }} desc nulls last
          {%- for column in tiebreak %}, {{ column }}{% endfor %}
      ) as emarsys_row_rank
    from ({{ relation_sql }}) as ranked_source
  ) as deduplicated
  where emarsys_row_rank = 1
{% endmacro %}


{#- numerator / denominator as a float, null where the denominator is 0 (no division error). -#}
{% macro emarsys_rate(numerator, denominator) %}
  case when {{ denominator }} > 0
    then cast({{ numerator }} as {{ dbt.type_float() }}) / {{ denominator }}
  end
{% endmacro %}


{#- The response figures of a group of responses (opens, unique opens, clicks, ...). -#}
{% macro emarsys_response_figures() %}
    cast(sum(case when response_type = 'open' then 1 else 0 end) as {{ dbt.type_bigint() }}) as opens,
    count(distinct case when response_type = 'open' then contact_id end) as unique_opens,
    cast(sum(case when response_type = 'click' then 1 else 0 end) as {{ dbt.type_bigint() }}) as clicks,
    count(distinct case when response_type = 'click' then contact_id end) as unique_clicks,
    count(distinct case when response_type = 'unsubscribe' then contact_id end) as unsubscribes,
    count(distinct case when response_type = 'complaint' then contact_id end) as complaints
{% endmacro %}


{#- The delivery figures of a group of delivery-status rows (sends, bounces by kind). -#}
{% macro emarsys_delivery_figures() %}
    count(*) as sends,
    count(distinct contact_id) as unique_recipients,
    cast(sum(case when is_bounced then 0 else 1 end) as {{ dbt.type_bigint() }}) as deliveries,
    cast(sum(case when is_bounced then 1 else 0 end) as {{ dbt.type_bigint() }}) as bounces,
    cast(sum(case when is_bounced and bounce_type = 'hard' then 1 else 0 end) as {{ dbt.type_bigint() }}) as hard_bounces,
    cast(sum(case when is_bounced and bounce_type = 'soft' then 1 else 0 end) as {{ dbt.type_bigint() }}) as soft_bounces,
    cast(sum(case when is_bounced and bounce_type = 'block' then 1 else 0 end) as {{ dbt.type_bigint() }}) as block_bounces,
    cast(sum(case when is_bounced and coalesce(bounce_type, '') not in ('hard', 'soft', 'block')
        then 1 else 0 end) as {{ dbt.type_bigint() }}) as other_bounces
{% endmacro %}


{#- The figures and rates a performance mart selects from `d` (deliveries) and `r` (responses). -#}
{% macro emarsys_performance_columns() %}
    {%- for figure in ['sends', 'unique_recipients', 'deliveries', 'bounces', 'hard_bounces',
                       'soft_bounces', 'block_bounces', 'other_bounces'] %}
    coalesce(d.{{ figure }}, 0) as {{ figure }},
    {%- endfor %}
    {%- for figure in ['opens', 'unique_opens', 'clicks', 'unique_clicks', 'unsubscribes',
                       'complaints'] %}
    coalesce(r.{{ figure }}, 0) as {{ figure }},
    {%- endfor %}
    {{ emarsys.emarsys_rate('coalesce(r.unique_opens, 0)', 'd.deliveries') }} as unique_open_rate,
    {{ emarsys.emarsys_rate('coalesce(r.unique_clicks, 0)', 'd.deliveries') }} as click_through_rate,
    {{ emarsys.emarsys_rate('coalesce(r.unique_clicks, 0)', 'r.unique_opens') }} as click_to_open_rate,
    {{ emarsys.emarsys_rate('d.bounces', 'd.sends') }} as bounce_rate,
    {{ emarsys.emarsys_rate('coalesce(r.unsubscribes, 0)', 'd.deliveries') }} as unsubscribe_rate,
    {{ emarsys.emarsys_rate('coalesce(r.complaints, 0)', 'd.deliveries') }} as complaint_rate
{% endmacro %}


{#-
  A stream's columns: its own, the contact fields when `with_fields`, the loader's metadata.

  (Built in one macro: dbt unit tests cannot resolve macro calls combined in one expression.)
-#}
{% macro emarsys_stream_columns(own, with_fields=false) %}
  {%- set columns = [] -%}
  {%- do columns.extend(own) -%}
  {%- if with_fields -%}
    {%- do columns.extend(emarsys.emarsys_contact_field_columns()) -%}
  {%- endif -%}
  {%- do columns.extend(emarsys.emarsys_loader_columns()) -%}
  {{ return(columns) }}
{% endmacro %}


{#- The core contact fields and the var's custom ones. -#}
{% macro emarsys_contact_field_columns() %}
  {%- set columns = [] -%}
  {%- do columns.extend(emarsys.emarsys_core_field_columns()) -%}
  {%- do columns.extend(emarsys.emarsys_custom_field_columns()) -%}
  {{ return(columns) }}
{% endmacro %}
