-- mix_base: the working table the period marts count from, one pass over marts.fct_visit, counted
-- per rep, team, region, week, month and quarter. Read by marts.visit_mix_monthly (40), marts.visit_mix
-- (50) and marts.visit_kpi (60; the last five counts are for it, summed per month). Temporary: it
-- lives in the build's session only.
create temp table mix_base as
select
    rep_id,
    team,
    region,
    date_trunc('week', visit_date)::date as week_start,
    date_trunc('month', visit_date)::date as month_start,
    date_trunc('quarter', visit_date)::date as quarter_start,
    (count(*) filter (where visit_type is not null))::bigint as visits_total,
    (count(*) filter (where visit_type = 'new_prospect'))::bigint as new_prospect_visits,
    (count(*) filter (where visit_type = 'hot_prospect'))::bigint as hot_prospect_visits,
    (count(*) filter (where visit_type = 'existing_customer'))::bigint as existing_customer_visits,
    (count(*) filter (where status = 'completed'))::bigint as completed_visits,
    (count(*) filter (where status in ('completed', 'cancelled', 'no_show')))::bigint as resolved_visits,
    (count(*) filter (where reported_type is not null and visit_type is not null))::bigint as labelled_visits,
    (count(*) filter (where is_reported_type_mismatch))::bigint as mismatched_labels,
    (count(*) filter (where visit_type = 'new_prospect' and days_to_next_visit <= (select progression_window_days from core.settings)))::bigint
        as progressed_new_visits
from marts.fct_visit
group by all;
