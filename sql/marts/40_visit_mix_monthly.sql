-- marts.visit_mix_monthly: one row per month and rep with at least one classified visit (the month x
-- rep slice of marts.visit_mix, kept for existing dashboards). Key: (month, rep_id).
-- month = first day of the month of visit_date (local date). team / region: the rep's as of the
-- month's first day. Shares in 0..1, unrounded: <type>_visits / visits_total. Targets: the mix in
-- force on the month's first day for the rep's team (else the company's).
-- mix_distance = 1/2 * sum over the three types of |share - target share|
--   (total variation distance: 0 = exactly on target, 1 = entirely off).
create table marts.visit_mix_monthly as
with
counts as (  -- from mix_base (36_mix_base.sql): the month's classified visits, whatever their week, team or region
    select
        month_start as month,
        rep_id,
        sum(visits_total)::bigint as visits_total,
        sum(new_prospect_visits)::bigint as new_prospect_visits,
        sum(hot_prospect_visits)::bigint as hot_prospect_visits,
        sum(existing_customer_visits)::bigint as existing_customer_visits
    from mix_base
    group by all
    having sum(visits_total) > 0
),
final as (
    select
        counts.month,
        counts.rep_id,
        rep.team,
        rep.region,
        counts.visits_total,
        counts.new_prospect_visits,
        counts.hot_prospect_visits,
        counts.existing_customer_visits,
        counts.new_prospect_visits / counts.visits_total as new_prospect_share,
        counts.hot_prospect_visits / counts.visits_total as hot_prospect_share,
        counts.existing_customer_visits / counts.visits_total as existing_customer_share,
        target.target_new_prospect_share,
        target.target_hot_prospect_share,
        target.target_existing_customer_share
    from counts
    left join rep_team_in_period as rep
        on rep.period_grain = 'month' and rep.period_start = counts.month and rep.rep_id = counts.rep_id
    left join target_in_force as target
        on target.period_grain = 'month' and target.period_start = counts.month
        and target.team is not distinct from rep.team
)
select
    month, rep_id, team, region, visits_total, new_prospect_visits, hot_prospect_visits, existing_customer_visits,
    new_prospect_share::double as new_prospect_share,
    hot_prospect_share::double as hot_prospect_share,
    existing_customer_share::double as existing_customer_share,
    target_new_prospect_share::double as target_new_prospect_share,
    target_hot_prospect_share::double as target_hot_prospect_share,
    target_existing_customer_share::double as target_existing_customer_share,
    mix_distance(new_prospect_share, hot_prospect_share, existing_customer_share,
                 target_new_prospect_share, target_hot_prospect_share, target_existing_customer_share)::double as mix_distance
from final
order by month, rep_id;
