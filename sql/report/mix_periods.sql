-- The periods of one grain that have started on or before $complete_through, from the first with a
-- visit on, with their last day and whether they are complete (last day on or before
-- $complete_through). A period without visits is listed too (the calendar, marts.dim_date), so the
-- page shows it as a gap instead of leaving it out. Weeks are ISO weeks (Monday start), as in
-- marts.visit_mix. Parameters: $grain (week | month | quarter), $complete_through.
-- Grain: one row per period. Key: period_start.
with
calendar as (
    select distinct case $grain when 'week' then week_start when 'month' then month_start else quarter_start end as period_start
    from marts.dim_date
),
first_with_visits as (
    select min(period_start) as period_start
    from marts.visit_mix
    where period_grain = $grain and level = 'company'
),
periods as (
    select calendar.period_start
    from calendar, first_with_visits
    where calendar.period_start >= first_with_visits.period_start and calendar.period_start <= $complete_through
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
