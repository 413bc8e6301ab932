-- The run the published marts came from (the latest succeeded run) and the latest run of any status
-- (a later failed run published nothing). Parameters: none. At most two rows, keyed by role.
with
runs as (
    select run_id, status, started_at, finished_at, rows_classified from audit.pipeline_run
),
published as (
    select 'published' as role, * from runs where status = 'succeeded' order by finished_at desc limit 1
),
latest as (
    select 'latest' as role, * from runs order by started_at desc limit 1
),
final as (
    select * from published union all select * from latest
)
select * from final
