-- The periods of one grain that have started on or before $complete_through, with their last day and
-- whether they are complete (last day on or before $complete_through). Weeks are ISO weeks (Monday
-- start), as in marts.visit_mix. Parameters: $grain (week | month | quarter), $complete_through.
-- Grain: one row per period with at least one visit. Key: period_start.
with
periods as (
    select distinct period_start
    from marts.visit_mix
    where period_grain = $grain and level = 'company' and period_start <= $complete_through
),
bounded as (
    select
        period_start,
        (period_start + case $grain when 'week' then interval 7 day when 'month' then interval 1 month else interval 3 month end)::date - 1
            as period_end
    from periods
),
final as (
    select period_start, period_end, period_end <= $complete_through as is_complete from bounded
)
select * from final order by period_start
