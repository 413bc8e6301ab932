-- A run that was killed before publishing, found by the build file it left behind; recorded once.
-- Parameters: $run_id, $last_written (the time that file was last written).
insert into audit.pipeline_run (run_id, started_at, finished_at, status, error_message)
select $run_id, $last_written, $last_written, 'failed',
       'ended before publishing (killed or crashed); its partial build was removed'
where not exists (select 1 from audit.pipeline_run where run_id = $run_id)
