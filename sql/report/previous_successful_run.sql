-- The last successful full run before a given one: the volume bound (min_volume_share) compares a run's
-- visit rows in scope with its. Parameters: $run_id, $started_at. Grain: at most one run.
with
earlier as (
    select run_id, started_at, finished_at, rows_in_scope
    from audit.pipeline_run
    where status = 'succeeded'
      and coalesce(run_mode, 'full') = 'full'  -- as the run compared (sql/audit/last_successful_run.sql)
      and run_id <> $run_id
      and started_at < $started_at
),
final as (
    select run_id, started_at, rows_in_scope from earlier order by finished_at desc limit 1
)
select * from final
