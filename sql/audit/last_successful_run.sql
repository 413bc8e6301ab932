-- Visit rows in scope of the last successful full run (for the volume check; an incremental run
-- extracts only what changed). Parameters: none.
select rows_in_scope
from audit.pipeline_run
where status = 'succeeded' and coalesce(run_mode, 'full') = 'full'
order by finished_at desc
limit 1
