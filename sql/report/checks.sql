-- Every check a run evaluated, as stored (samples hold row references only). Parameters: $run_id.
-- Grain: run x suite x expectation x column. Every column, by name: a warehouse written before a
-- column was added (description) still reads.
with
checks as (
    select * exclude (run_id)
    from audit.dq_result
    where run_id = $run_id
),
final as (
    select * from checks
)
select * from final
