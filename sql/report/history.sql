-- The most recent runs, newest first, for the run history page. Every column, by name (older
-- warehouses lack some, killed runs have only run_id, times, status and error_message).
-- Parameters: $limit. Grain: run. Key: run_id.
with
runs as (
    select * from audit.pipeline_run
),
final as (
    select * from runs order by started_at desc, run_id desc limit $limit
)
select * from final
