-- 1 when the database ($database, or the connection's own when NULL) has audit.pipeline_run with the
-- twelve columns every visitmix release has written since the first (sql/ddl/10_audit.sql), else 0:
-- the mark of a warehouse visitmix built. A table of that name with other columns is someone else's,
-- also another tool's run log with only run_id, status, started_at and finished_at.
-- Parameters: $database.
select (count(*) = 12)::integer as n
from duckdb_columns()
where database_name = coalesce($database, current_database())
  and schema_name = 'audit'
  and table_name = 'pipeline_run'
  and column_name in ('run_id', 'flow_run_id', 'started_at', 'finished_at', 'status', 'error_message', 'config_sha256',
                      'rows_read', 'rows_in_scope', 'rows_quarantined', 'rows_classified', 'rows_published')
