-- marts.dim_rep: one row per rep id seen in any input (reps, visits, deal owners). Key: rep_id.
-- Full refresh each run.
create table marts.dim_rep as
with
rep_ids as (
    select rep_id from staging.reps
    union select rep_id from visit_reps_frame  -- ids the visits use beyond the reps input
    union select rep_id from staging.deals
),
reps as (
    select rep_id, rep_name, team, region from staging.reps
),
final as (
    select ids.rep_id, reps.rep_name, reps.team, reps.region
    from rep_ids as ids
    left join reps using (rep_id)
    where ids.rep_id is not null
)
select * from final order by rep_id;
