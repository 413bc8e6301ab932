-- The last day the visit-mix page counts as complete: the data's as-of date (the latest date of a
-- visit that took place — completed, cancelled or no-show; planned visits lie ahead) but never the
-- day the run finished or later (that day may still get visits). Parameters: $finished_date (the
-- run's local finish date). One row; NULLs when the marts hold no such visit.
with
visits as (
    select max(visit_date) filter (where status <> 'planned') as as_of_date from marts.fct_visit
),
final as (
    select as_of_date, least(as_of_date, $finished_date::date - 1) as complete_through from visits
)
select * from final
