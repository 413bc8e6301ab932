-- The most recent runs, newest first, for `visitmix status`. Parameters: $limit.
select
    run_id,
    status,
    started_at,
    finished_at,
    date_diff('millisecond', started_at, finished_at) / 1000.0 as duration_s,
    coalesce(run_mode, 'full') as run_mode,
    rows_read,
    rows_quarantined,
    rows_classified,
    cast(watermark as varchar) as watermark,
    error_message
from audit.pipeline_run
order by started_at desc
limit $limit
