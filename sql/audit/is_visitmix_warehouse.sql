-- 1 when the database ($database, or the connection's own when NULL) has audit.pipeline_run, else 0:
-- the mark of a warehouse visitmix built. Parameters: $database.
select count(*) as n
from duckdb_tables()
where database_name = coalesce($database, current_database())
  and schema_name = 'audit'
  and table_name = 'pipeline_run'
