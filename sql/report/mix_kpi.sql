-- The KPIs of the company and of every team (marts.visit_kpi, as published: the columns a warehouse
-- has are the ones shown) for the complete periods of one grain. Parameters: $grain (month |
-- quarter), $complete_through. Grain: period x level x level_key; newest period first.
with
kpi as (
    select
        *,
        (period_start + case $grain when 'month' then interval 1 month else interval 3 month end)::date - 1 as kpi_period_end
    from marts.visit_kpi
    where period_grain = $grain and level in ('company', 'team')
),
final as (
    select * from kpi where kpi_period_end <= $complete_through
)
select * from final order by period_start desc, level <> 'company', level_key
