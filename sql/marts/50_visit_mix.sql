-- marts.visit_mix: the visit mix at every level and period, computed from counts (never by
-- averaging shares). Key: (period_grain, period_start, level, level_key).
--   period_grain: week (ISO, Monday start; iso_year / iso_week on week rows) | month | quarter
--   level: rep (level_key = rep_id) | team (the rep's team as of each visit, fct_visit.team;
--          '(no team)' when unknown) | region (likewise) | company (level_key 'company')
-- A rep's periods with no classified visit between the rep's first and last visit (any status)
-- appear with zero counts and NULL shares: a missing bar means "no visits", not "no data".
-- Rows are stored in no particular order (sorting a million rows costs seconds): readers sort by the key.
-- Targets: the mix in force on the period's first day — a team's own (for a team, and for a rep by
-- the rep's team then), else the company's. mix_distance = 1/2 * sum |share - target| (0..1).

-- Counts come from mix_base (36_mix_base.sql), the one pass over the visits.

create table marts.visit_mix as
with
grains as (
    select * from (values ('week'), ('month'), ('quarter')) as g(period_grain)
),
exploded as (
    select
        grains.period_grain,
        case grains.period_grain when 'week' then b.week_start when 'month' then b.month_start else b.quarter_start end as period_start,
        b.*
    from mix_base as b
    cross join grains
),
rep_span as (  -- periods from the rep's first to last visit, any status
    select period_grain, rep_id, min(period_start) as first_period, max(period_start) as last_period
    from exploded
    group by all
),
rep_counts as (
    select period_grain, period_start, rep_id,
           sum(visits_total)::bigint as visits_total,
           sum(new_prospect_visits)::bigint as new_prospect_visits,
           sum(hot_prospect_visits)::bigint as hot_prospect_visits,
           sum(existing_customer_visits)::bigint as existing_customer_visits
    from exploded
    group by all
),
rep_rows as (
    select span.period_grain, periods.period_start, 'rep' as level, span.rep_id as level_key, team.team as target_team,
           coalesce(c.visits_total, 0) as visits_total,
           coalesce(c.new_prospect_visits, 0) as new_prospect_visits,
           coalesce(c.hot_prospect_visits, 0) as hot_prospect_visits,
           coalesce(c.existing_customer_visits, 0) as existing_customer_visits
    from rep_span as span
    join (select distinct period_grain, period_start from target_in_force) as periods
        on periods.period_grain = span.period_grain and periods.period_start between span.first_period and span.last_period
    left join rep_counts as c
        on c.period_grain = span.period_grain and c.period_start = periods.period_start and c.rep_id = span.rep_id
    left join rep_team_in_period as team
        on team.period_grain = span.period_grain and team.period_start = periods.period_start and team.rep_id = span.rep_id
),
group_rows as (
    select period_grain, period_start, 'team' as level, coalesce(team, '(no team)') as level_key, team as target_team,
           sum(visits_total)::bigint as visits_total, sum(new_prospect_visits)::bigint as new_prospect_visits,
           sum(hot_prospect_visits)::bigint as hot_prospect_visits, sum(existing_customer_visits)::bigint as existing_customer_visits
    from exploded group by all
    union all
    select period_grain, period_start, 'region', coalesce(region, '(no region)'), null,
           sum(visits_total)::bigint, sum(new_prospect_visits)::bigint, sum(hot_prospect_visits)::bigint, sum(existing_customer_visits)::bigint
    from exploded group by all
    union all
    select period_grain, period_start, 'company', 'company', null,
           sum(visits_total)::bigint, sum(new_prospect_visits)::bigint, sum(hot_prospect_visits)::bigint, sum(existing_customer_visits)::bigint
    from exploded group by all
),
all_rows as (
    select * from rep_rows union all select * from group_rows
),
shares as (
    select
        r.*,
        case when r.visits_total > 0 then r.new_prospect_visits / r.visits_total end as new_prospect_share,
        case when r.visits_total > 0 then r.hot_prospect_visits / r.visits_total end as hot_prospect_share,
        case when r.visits_total > 0 then r.existing_customer_visits / r.visits_total end as existing_customer_share,
        t.target_new_prospect_share,
        t.target_hot_prospect_share,
        t.target_existing_customer_share
    from all_rows as r
    left join target_in_force as t
        on t.period_grain = r.period_grain and t.period_start = r.period_start and t.team is not distinct from r.target_team
)
select
    period_grain,
    period_start,
    case when period_grain = 'week' then isoyear(period_start)::integer end as iso_year,
    case when period_grain = 'week' then week(period_start)::integer end as iso_week,
    level,
    level_key,
    visits_total,
    new_prospect_visits,
    hot_prospect_visits,
    existing_customer_visits,
    new_prospect_share::double as new_prospect_share,
    hot_prospect_share::double as hot_prospect_share,
    existing_customer_share::double as existing_customer_share,
    target_new_prospect_share::double as target_new_prospect_share,
    target_hot_prospect_share::double as target_hot_prospect_share,
    target_existing_customer_share::double as target_existing_customer_share,
    mix_distance(new_prospect_share, hot_prospect_share, existing_customer_share,
                 target_new_prospect_share, target_hot_prospect_share, target_existing_customer_share)::double as mix_distance
from shares;

-- marts.visit_mix_long: marts.visit_mix with one row per visit type, for stacked bars against the
-- target. Key: (period_grain, period_start, level, level_key, visit_type).
create table marts.visit_mix_long as
select period_grain, period_start, iso_year, iso_week, level, level_key, 'new_prospect' as visit_type,
       new_prospect_visits as visits, new_prospect_share as share, target_new_prospect_share as target_share
from marts.visit_mix
union all
select period_grain, period_start, iso_year, iso_week, level, level_key, 'hot_prospect',
       hot_prospect_visits, hot_prospect_share, target_hot_prospect_share
from marts.visit_mix
union all
select period_grain, period_start, iso_year, iso_week, level, level_key, 'existing_customer',
       existing_customer_visits, existing_customer_share, target_existing_customer_share
from marts.visit_mix;
