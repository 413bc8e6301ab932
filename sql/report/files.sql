-- The files (or database tables) a run read: size, sha256, encoding, delimiter, skipped rows.
-- Parameters: $run_id. Grain: run x source x file. Every column, by name (older warehouses lack some).
with
files as (
    select * exclude (run_id)
    from audit.source_file
    where run_id = $run_id
),
final as (
    select * from files
)
select * from final order by source, file
