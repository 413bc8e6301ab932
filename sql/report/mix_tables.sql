-- The published marts the visit-mix page may read, by name (an older warehouse may lack some).
-- Parameters: none. Grain: table.
select table_name from duckdb_tables() where schema_name = 'marts' order by table_name
