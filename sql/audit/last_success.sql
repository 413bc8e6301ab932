-- When the last successful run finished: the age of the published marts. Parameters: none.
select max(finished_at) from audit.pipeline_run where status = 'succeeded'
