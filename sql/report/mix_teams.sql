-- The visit mix of the company and of every team over a range of periods, against the target in
-- force (marts.visit_mix; shares in 0..1). Parameters: $grain, $first_period, $last_period.
-- Grain: level x level_key x period; the company first, then teams by name.
select
    level,
    level_key,
    period_start,
    visits_total,
    new_prospect_visits,
    hot_prospect_visits,
    existing_customer_visits,
    new_prospect_share,
    hot_prospect_share,
    existing_customer_share,
    target_new_prospect_share,
    target_hot_prospect_share,
    target_existing_customer_share,
    mix_distance
from marts.visit_mix
where period_grain = $grain
  and level in ('company', 'team')
  and period_start between $first_period and $last_period
order by level <> 'company', level_key, period_start
