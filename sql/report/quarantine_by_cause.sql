-- A run's quarantined rows counted by source and cause: one row per cause, each quarantined row
-- counted once, under its first reason (the one audit.quarantine holds). A cause is the reason
-- without the row and line numbers some reasons carry ("short row: row 7 (line 9) has fewer
-- fields…"), so that one cause is one row. Reasons never hold cell values.
-- Parameters: $run_id, $sample_size (file:row references kept per cause). Grain: source x cause.
with
held as (
    select
        source,
        regexp_replace(reason, 'row [0-9]+ \(line [0-9]+\) ', '') as cause,
        file,
        row_number
    from audit.quarantine
    where run_id = $run_id
),
final as (
    select
        source,
        cause,
        count(*) as rows,
        list(file || ':' || row_number order by file, row_number)[1:$sample_size] as first_rows
    from held
    group by source, cause
)
select * from final order by rows desc, source, cause
