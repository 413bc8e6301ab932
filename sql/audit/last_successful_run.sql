-- Visit rows in scope of the last successful run (for the volume check). Parameters: none.
select rows_in_scope
from audit.pipeline_run
where status = 'succeeded'
order by finished_at desc
limit 1
