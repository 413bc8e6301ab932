-- marts.dim_date: one row per calendar day of the years the visits span, widened to whole ISO weeks
-- (so the first week's Monday, which may fall in the December before, is a row too). Key: date.
-- Weeks are ISO weeks (Monday start; 2024-12-30 is in 2025-W01); quarters are calendar quarters.
-- fiscal_year is named after the calendar year it ends in (core.settings.fiscal_year_start_month;
-- with 10, FY2026 runs from 2025-10-01 to 2026-09-30); buddhist_year is the Thai year (CE + 543).
create table marts.dim_date as
with
bounds as (
    select date_trunc('week', make_date(year(min(visit_date)), 1, 1))::date as first_day,
           (date_trunc('week', make_date(year(max(visit_date)), 12, 31)) + interval 6 day)::date as last_day
    from classified_frame
),
days as (
    select unnest(generate_series(first_day, last_day, interval 1 day))::date as date from bounds
),
final as (
    select
        days.date,
        isoyear(days.date)::integer as iso_year,
        week(days.date)::integer as iso_week,
        date_trunc('week', days.date)::date as week_start,
        isodow(days.date)::integer as iso_day_of_week,
        year(days.date)::integer as year,
        month(days.date)::integer as month,
        date_trunc('month', days.date)::date as month_start,
        quarter(days.date)::integer as quarter,
        date_trunc('quarter', days.date)::date as quarter_start,
        (year(days.date) + case when s.fiscal_year_start_month > 1 and month(days.date) >= s.fiscal_year_start_month then 1 else 0 end)::integer
            as fiscal_year,
        ((month(days.date) - s.fiscal_year_start_month + 12) % 12 // 3 + 1)::integer as fiscal_quarter,
        (year(days.date) + 543)::integer as buddhist_year
    from days
    cross join core.settings as s
)
select * from final order by date;
