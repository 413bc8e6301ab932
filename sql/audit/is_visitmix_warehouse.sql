-- 1 when the database ($database, or the connection's own when NULL) has audit.pipeline_run with the
-- columns every visitmix release has written (run_id, status, started_at, finished_at), else 0: the
-- mark of a warehouse visitmix built (a table of that name with other columns is someone else's).
-- Parameters: $database.
select (count(*) = 4)::integer as n
from duckdb_columns()
where database_name = coalesce($database, current_database())
  and schema_name = 'audit'
  and table_name = 'pipeline_run'
  and column_name in ('run_id', 'status', 'started_at', 'finished_at')
