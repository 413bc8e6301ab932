-- A run's quarantined rows counted by source and reason, with the quoted values masked
-- ($quoted_value is the pattern of a quoted value in a reason, e.g. 'visit_id ''V1'' appears …').
-- Parameters: $run_id, $quoted_value. Grain: source x masked reason.
with
held as (
    select source, regexp_replace(reason, $quoted_value, '''…''', 'g') as reason
    from audit.quarantine
    where run_id = $run_id
),
final as (
    select source, reason, count(*) as rows from held group by source, reason
)
select * from final order by rows desc, source, reason
