-- marts.fct_visit: one row per visit that passed validation, classified or not. Key: visit_id.
-- visit_type is NULL for visits that are not completed. team and region are the rep's as of the
-- visit date (marts.dim_rep's history; NULL when the rep had no team then).
-- Full refresh each run; read once from the run's classified visits (an Arrow frame).
create table marts.fct_visit as
with
visits as (
    select * from classified_frame
),
reps as (  -- each version holds from its valid_from until the next version's (at most one matches a date)
    select rep_id, coalesce(valid_from, date '0001-01-01') as valid_from,
           lead(valid_from) over (partition by rep_id order by valid_from nulls first) as next_from,
           valid_to, team, region
    from marts.dim_rep
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
        visits.days_to_next_visit::bigint as days_to_next_visit,
        visits.customer_since,
        visits.reported_type,
        visits.reported_visit_type,
        visits.is_reported_type_mismatch,
        case when reps.valid_to is null or visits.visit_date < reps.valid_to then reps.team end as team,
        case when reps.valid_to is null or visits.visit_date < reps.valid_to then reps.region end as region
    -- the version in force on the visit date: a hash join on rep_id (an ASOF join sorts every visit)
    from visits
    left join reps
        on visits.rep_id = reps.rep_id
        and visits.visit_date >= reps.valid_from
        and (reps.next_from is null or visits.visit_date < reps.next_from)
)
-- rows in the order transforms/classify.py returns them (the source order): no sort of millions of rows
select * from final;
