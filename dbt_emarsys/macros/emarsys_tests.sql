{#-
  Generic test: no two rows share the values of `columns` (a composite key).

  dbt-core's own `unique` takes one column; the package's tables are keyed by several and add
  source_relation with several accounts.
-#}
{% test emarsys_unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as rows_per_key
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
