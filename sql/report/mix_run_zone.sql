-- The time zone a run recorded ([classification].timezone), for a page made without the config.
-- Parameters: $run_id. At most one row; its timezone is NULL when the warehouse predates the column
-- (read through to_json, so a missing column is NULL rather than an error).
select json_extract_string(to_json(r), '$.timezone') as timezone
from audit.pipeline_run as r
where r.run_id = $run_id
