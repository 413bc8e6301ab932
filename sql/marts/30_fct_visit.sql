-- marts.fct_visit: one row per visit that passed validation, classified or not. Key: visit_id.
-- visit_type is NULL for visits that are not completed. team and region are the rep's.
-- Full refresh each run; read once from the run's Parquet file of classified visits.
create table marts.fct_visit as
with
visits as (
    select * from classified_frame
),
reps as (
    select rep_id, team, region from marts.dim_rep
),
final as (
    select
        visits.visit_id,
        visits.rep_id,
        visits.account_id,
        visits.visit_start,
        visits.visit_date,
        visits.status,
        visits.channel,
        visits.duration_min,
        visits.deal_id,
        visits.visit_type,
        visits.visit_type_label,
        visits.prior_visit_count::bigint as prior_visit_count,
        visits.days_since_prior_visit::bigint as days_since_prior_visit,
        visits.customer_since,
        visits.reported_type,
        visits.is_reported_type_mismatch,
        reps.team,
        reps.region
    from visits
    left join reps using (rep_id)
)
-- rows in the order transforms/classify.py returns them (the source order): no sort of millions of rows
select * from final;
