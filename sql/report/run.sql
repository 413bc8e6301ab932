-- One run's record. Parameters: $run_id.
select * from audit.pipeline_run where run_id = $run_id
