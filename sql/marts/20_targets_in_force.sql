-- Working table (not published): the target mix in force for every period and team, so that each
-- mart row takes the target of its period's first day. A team's own target (core.target with that
-- team) wins over the company's (team NULL); each is the latest whose valid_from is on or before the
-- period start. team NULL rows hold the company's target. Grain: period_grain x period_start x team.
create temp table target_in_force as
with
periods as (
    select distinct 'week' as period_grain, week_start as period_start from marts.dim_date
    union all select distinct 'month', month_start from marts.dim_date
    union all select distinct 'quarter', quarter_start from marts.dim_date
),
teams as (
    select distinct team from marts.dim_rep where team is not null
    union select distinct team from core.target where team is not null
),
scopes as (
    select periods.*, teams.team from periods cross join teams
    union all select periods.*, null::varchar from periods
),
own as (
    select scopes.period_grain, scopes.period_start, scopes.team,
           t.new_prospect_share, t.hot_prospect_share, t.existing_customer_share
    from scopes
    asof left join core.target as t on scopes.team = t.team and scopes.period_start >= t.valid_from
),
company as (
    select periods.period_grain, periods.period_start,
           t.new_prospect_share, t.hot_prospect_share, t.existing_customer_share
    from periods
    asof left join (select * from core.target where team is null) as t on periods.period_start >= t.valid_from
)
select
    own.period_grain,
    own.period_start,
    own.team,
    coalesce(own.new_prospect_share, company.new_prospect_share) as target_new_prospect_share,
    coalesce(own.hot_prospect_share, company.hot_prospect_share) as target_hot_prospect_share,
    coalesce(own.existing_customer_share, company.existing_customer_share) as target_existing_customer_share
from own
join company using (period_grain, period_start);

-- The rep's team as of each period's first day (dim_rep's history), for targets at rep level.
create temp table rep_team_in_period as
with
periods as (
    select distinct period_grain, period_start from target_in_force
),
reps as (
    select rep_id, coalesce(valid_from, date '0001-01-01') as valid_from, valid_to, team, region from marts.dim_rep
),
rep_periods as (
    select periods.*, ids.rep_id from periods cross join (select distinct rep_id from reps) as ids
)
select rep_periods.period_grain, rep_periods.period_start, rep_periods.rep_id,
       case when reps.valid_to is null or rep_periods.period_start < reps.valid_to then reps.team end as team,
       case when reps.valid_to is null or rep_periods.period_start < reps.valid_to then reps.region end as region
from rep_periods
asof left join reps on rep_periods.rep_id = reps.rep_id and rep_periods.period_start >= reps.valid_from;
