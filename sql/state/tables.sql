-- The tables of schema state in this warehouse (which incremental state it holds). Parameters: none.
select table_name
from duckdb_tables()
where schema_name = 'state' and database_name = current_database()
