-- marts.visit_mix_monthly: one row per month and rep with at least one classified visit.
-- Key: (month, rep_id). month = first day of the month of visit_date (local date).
-- Shares are in 0..1, unrounded: <type>_visits / visits_total.
-- mix_distance = 1/2 * sum over the three types of |share - target share|
--   (total variation distance: 0 = exactly on target, 1 = entirely off).
-- Full refresh each run.
create table marts.visit_mix_monthly as
with
classified as (
    select date_trunc('month', visit_date)::date as month, rep_id, visit_type
    from marts.fct_visit
    where visit_type is not null
),
counts as (
    select
        month,
        rep_id,
        count(*) as visits_total,
        count(*) filter (where visit_type = 'new_prospect') as new_prospect_visits,
        count(*) filter (where visit_type = 'hot_prospect') as hot_prospect_visits,
        count(*) filter (where visit_type = 'existing_customer') as existing_customer_visits
    from classified
    group by month, rep_id
),
shares as (
    select
        counts.*,
        new_prospect_visits / visits_total as new_prospect_share,
        hot_prospect_visits / visits_total as hot_prospect_share,
        existing_customer_visits / visits_total as existing_customer_share
    from counts
),
final as (
    select
        shares.month,
        shares.rep_id,
        reps.team,
        reps.region,
        shares.visits_total,
        shares.new_prospect_visits,
        shares.hot_prospect_visits,
        shares.existing_customer_visits,
        shares.new_prospect_share::double as new_prospect_share,
        shares.hot_prospect_share::double as hot_prospect_share,
        shares.existing_customer_share::double as existing_customer_share,
        target.new_prospect_share::double as target_new_prospect_share,
        target.hot_prospect_share::double as target_hot_prospect_share,
        target.existing_customer_share::double as target_existing_customer_share,
        (0.5 * (
            abs(shares.new_prospect_share - target.new_prospect_share)
          + abs(shares.hot_prospect_share - target.hot_prospect_share)
          + abs(shares.existing_customer_share - target.existing_customer_share)
        ))::double as mix_distance
    from shares
    cross join core.target_mix as target
    left join marts.dim_rep as reps using (rep_id)
)
select * from final order by month, rep_id;
