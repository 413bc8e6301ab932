-- The id of the most recent run (audit.pipeline_run). Parameters: none.
select run_id from audit.pipeline_run order by started_at desc limit 1
