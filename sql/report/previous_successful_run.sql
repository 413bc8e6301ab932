-- The last successful run before a given one that read the visits whole: the volume bound
-- (min_volume_share) compares a run's visit rows in scope with its (the same runs as
-- sql/audit/last_successful_run.sql). Parameters: $run_id, $started_at. Grain: at most one run.
with
earlier as (
    select r.run_id, r.started_at, r.finished_at, r.rows_in_scope
    from audit.pipeline_run as r
    where r.status = 'succeeded'
      and (coalesce(r.run_mode, 'full') = 'full' or not exists (
          select 1 from audit.dq_result as d
          where d.run_id = r.run_id and d.suite = 'visits' and d.expectation = 'rows_before_watermark'))
      and r.run_id <> $run_id
      and r.started_at < $started_at
),
final as (
    select run_id, started_at, rows_in_scope from earlier order by finished_at desc limit 1
)
select * from final
