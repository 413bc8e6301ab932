-- A run's quarantined rows counted by source and reason (reasons never hold cell values).
-- Parameters: $run_id. Grain: source x reason.
with
held as (
    select source, reason
    from audit.quarantine
    where run_id = $run_id
),
final as (
    select source, reason, count(*) as rows from held group by source, reason
)
select * from final order by rows desc, source, reason
