-- marts.visit_kpi: KPIs beyond the mix, per month and quarter, at rep / team / company level.
-- Key: (period_grain, period_start, level, level_key). Each share has its numerator and denominator
-- beside it (sum those, never the shares, to roll up). Formulas (one place; see docs/marts.md):
--   existing_customer_coverage_share = covered_customers / customers_at_start: of the accounts that
--     were customers at the period's start (customer_since < period_start), those with at least one
--     completed visit (by anyone) in the period. Per rep and team by the account's owner rep
--     (accounts input rep_id; the owner's team as of the period start); NULL where no owner is known.
--   new_to_hot_progression_share = progressed_new_visits / new_prospect_visits: of the period's
--     new-prospect visits, those whose account had another completed visit within
--     core.settings.progression_window_days days (day N counts, N+1 does not).
--   hot_to_won_share = won_hot_accounts / hot_accounts: of the accounts with hot-prospect visits in the
--     period, those that became customers within win_window_days of their last such visit.
--   Both are published only once their window has passed for the whole period (is_*_window_complete:
--     the period's last day + window <= as_of_date, the latest completed visit's date); before, NULL.
--   plan_adherence_share = completed_visits / resolved_visits: of the period's visits whose plan has
--     resolved (completed, cancelled, no-show), the completed ones; still-planned visits are not counted.
--   reported_type_mismatch_share = mismatched_labels / labelled_visits: of the classified visits with a
--     rep's own label, those whose label names another type (see marts.reported_type_mismatch for
--     which way).
-- Rows of both marts are stored in no particular order (sorting them costs seconds): readers sort by the key.
-- team for visits: the rep's team as of the visit (fct_visit.team).
-- Working tables, counted per month, rep and team (quarters and the team and company levels are sums,
-- maxima or distinct sets of the months, so millions of visits are read once). The visit counts come
-- from the one pass over the visits (mix_base, 36_mix_base.sql: per rep, team, region, week and month).
create temp table kpi_base as
select
    month_start,
    rep_id,
    coalesce(team, '(no team)') as team_key,
    sum(completed_visits)::bigint as completed_visits,
    sum(resolved_visits)::bigint as resolved_visits,
    sum(labelled_visits)::bigint as labelled_visits,
    sum(mismatched_labels)::bigint as mismatched_labels,
    sum(new_prospect_visits)::bigint as new_prospect_visits,
    sum(progressed_new_visits)::bigint as progressed_new_visits
from mix_base
group by all;

-- per month, rep, team and account with hot-prospect visits: whether the account was won within the
-- window of its last one (for hot_to_won_share). "customer_since - last hot date <= window" holds for
-- the last (latest) hot visit exactly when it holds for some hot visit, so a flag per row rolls up to
-- any set of rows (quarters, teams, the company) with bool_or: no dates carried, one group per account.
create temp table kpi_hot as
select date_trunc('month', visit_date)::date as month_start, rep_id, coalesce(team, '(no team)') as team_key, account_id,
       coalesce(bool_or(customer_since - visit_date <= (select win_window_days from core.settings)), false) as is_won
from marts.fct_visit
where visit_type = 'hot_prospect'
group by all;

-- per month: the accounts with a completed visit that were customers before the month began (for
-- coverage: an account counts in a period only when customer_since < period_start, and a month's or
-- quarter's start is never after the visit's month start, so no other visit can count)
create temp table kpi_visited as
select distinct date_trunc('month', visit_date)::date as month_start, account_id
from marts.fct_visit
where status = 'completed' and customer_since < date_trunc('month', visit_date);

-- per month, rep and team: the rep's labels that differ from the derived type, which way
create temp table kpi_mismatch as
select date_trunc('month', visit_date)::date as month_start, rep_id, coalesce(team, '(no team)') as team_key,
       coalesce(reported_visit_type, 'unknown label') as reported_visit_type, visit_type, count(*)::bigint as visits
from marts.fct_visit
where is_reported_type_mismatch
group by all;

-- each month row counts once in its month and once in its quarter
create temp table kpi_grain as select * from (values ('month'), ('quarter')) as g(period_grain);

create table marts.visit_kpi as
with
settings as (
    -- the data's own date: the latest completed visit (a planned visit in the future must not close a window)
    select s.*, (select max(visit_date) from marts.fct_visit where status = 'completed') as as_of_date from core.settings as s
),
base as (
    select g.period_grain, case g.period_grain when 'month' then b.month_start else date_trunc('quarter', b.month_start)::date end as period_start, b.*
    from kpi_base as b cross join kpi_grain as g
),
visit_counts as (  -- per level: plan adherence, labels, progression
    select period_grain, period_start, level, level_key,
        sum(completed_visits)::bigint as completed_visits,
        sum(resolved_visits)::bigint as resolved_visits,
        sum(labelled_visits)::bigint as labelled_visits,
        sum(mismatched_labels)::bigint as mismatched_labels,
        sum(new_prospect_visits)::bigint as new_prospect_visits,
        sum(progressed_new_visits)::bigint as progressed_new_visits
    from (
        select *, 'rep' as level, rep_id as level_key from base
        union all select *, 'team', team_key from base
        union all select *, 'company', 'company' from base
    )
    group by all
),
hot_base as (
    select g.period_grain, case g.period_grain when 'month' then h.month_start else date_trunc('quarter', h.month_start)::date end as period_start, h.*
    from kpi_hot as h cross join kpi_grain as g
),
hot as (  -- per level and account with hot-prospect visits in the period: won within the window of the last?
    select period_grain, period_start,
        case when grouping(rep_id) = 0 then 'rep' when grouping(team_key) = 0 then 'team' else 'company' end as level,
        coalesce(rep_id, team_key, 'company') as level_key,  -- rep_id is never NULL, team_key never (coalesced)
        account_id, bool_or(is_won) as is_won
    from hot_base
    group by grouping sets (
        (period_grain, period_start, rep_id, account_id),
        (period_grain, period_start, team_key, account_id),
        (period_grain, period_start, account_id)
    )
),
hot_counts as (
    select period_grain, period_start, level, level_key,
        count(*)::bigint as hot_accounts,
        (count(*) filter (where is_won))::bigint as won_hot_accounts
    from hot
    group by all
),
periods as (
    select distinct period_grain, period_start from base
),
customers as (  -- accounts that are customers, with their owner (owner_key: the rep, or a mark for none)
    select account_id, customer_since, rep_id, coalesce(rep_id, chr(0)) as owner_key
    from marts.dim_account
    where customer_since is not null
),
customers_so_far as (  -- per owner and month: customers whose customer_since is in or before that month
    select owner_key, any_value(rep_id) as rep_id, since_month,
           sum(count(*)) over (partition by owner_key order by since_month)::bigint as customers
    from (select *, date_trunc('month', customer_since)::date as since_month from customers)
    group by owner_key, since_month
),
at_start as (  -- customer_since < period_start, for a period starting on the 1st: since_month < period_start
    select p.period_grain, p.period_start, so_far.owner_key, so_far.rep_id, so_far.customers as customers_at_start
    from periods as p
    cross join (select distinct owner_key from customers) as owners
    asof join customers_so_far as so_far
        on so_far.owner_key = owners.owner_key and p.period_start > so_far.since_month
),
visited as (
    select distinct g.period_grain, case g.period_grain when 'month' then v.month_start else date_trunc('quarter', v.month_start)::date end as period_start,
           v.account_id
    from kpi_visited as v cross join kpi_grain as g
),
covered as (  -- per owner: customers at the period start with a completed visit in the period
    select v.period_grain, v.period_start, c.owner_key, count(*)::bigint as covered_customers
    from visited as v
    join customers as c on c.account_id = v.account_id and c.customer_since < v.period_start
    group by all
),
owner_rows as (
    select a.*, coalesce(cv.covered_customers, 0) as covered_customers, owner.team as owner_team
    from at_start as a
    left join covered as cv using (period_grain, period_start, owner_key)
    left join rep_team_in_period as owner
        on owner.period_grain = a.period_grain and owner.period_start = a.period_start and owner.rep_id = a.rep_id
),
coverage as (
    select period_grain, period_start, level, level_key,
        sum(customers_at_start)::bigint as customers_at_start,
        sum(covered_customers)::bigint as covered_customers
    from (
        select *, 'rep' as level, rep_id as level_key from owner_rows where rep_id is not null
        union all select *, 'team', coalesce(owner_team, '(no team)') from owner_rows where rep_id is not null
        union all select *, 'company', 'company' from owner_rows
    )
    group by all
),
keys as (
    select period_grain, period_start, level, level_key from visit_counts
    union select period_grain, period_start, level, level_key from coverage
),
final as (
    select
        k.period_grain, k.period_start, k.level, k.level_key,
        coalesce(cov.customers_at_start, 0) as customers_at_start,
        coalesce(cov.covered_customers, 0) as covered_customers,
        coalesce(vc.new_prospect_visits, 0) as new_prospect_visits,
        coalesce(vc.progressed_new_visits, 0) as progressed_new_visits,
        coalesce(hc.hot_accounts, 0) as hot_accounts,
        coalesce(hc.won_hot_accounts, 0) as won_hot_accounts,
        coalesce(vc.completed_visits, 0) as completed_visits,
        coalesce(vc.resolved_visits, 0) as resolved_visits,
        coalesce(vc.labelled_visits, 0) as labelled_visits,
        coalesce(vc.mismatched_labels, 0) as mismatched_labels,
        (case k.period_grain when 'month' then k.period_start + interval 1 month else k.period_start + interval 3 month end)::date - 1
            as period_end,
        s.as_of_date, s.progression_window_days, s.win_window_days
    from keys as k
    cross join settings as s
    left join visit_counts as vc using (period_grain, period_start, level, level_key)
    left join hot_counts as hc using (period_grain, period_start, level, level_key)
    left join coverage as cov using (period_grain, period_start, level, level_key)
)
select
    period_grain, period_start, level, level_key,
    customers_at_start, covered_customers,
    (case when customers_at_start > 0 then covered_customers / customers_at_start end)::double as existing_customer_coverage_share,
    new_prospect_visits, progressed_new_visits,
    period_end + progression_window_days <= as_of_date as is_progression_window_complete,
    (case when period_end + progression_window_days <= as_of_date and new_prospect_visits > 0
          then progressed_new_visits / new_prospect_visits end)::double as new_to_hot_progression_share,
    hot_accounts, won_hot_accounts,
    period_end + win_window_days <= as_of_date as is_win_window_complete,
    (case when period_end + win_window_days <= as_of_date and hot_accounts > 0
          then won_hot_accounts / hot_accounts end)::double as hot_to_won_share,
    completed_visits, resolved_visits,
    (case when resolved_visits > 0 then completed_visits / resolved_visits end)::double as plan_adherence_share,
    labelled_visits, mismatched_labels,
    (case when labelled_visits > 0 then mismatched_labels / labelled_visits end)::double as reported_type_mismatch_share,
    as_of_date
from final;

-- marts.reported_type_mismatch: which way the reps' own labels differ from the derived types (e.g.
-- "new" typed on an existing-customer visit). Key: (period_grain, period_start, level, level_key,
-- reported_visit_type, visit_type). reported_visit_type: the label read as a type (fct_visit), or
-- 'unknown label' when it names none.
create table marts.reported_type_mismatch as
with
base as (
    select g.period_grain, case g.period_grain when 'month' then m.month_start else date_trunc('quarter', m.month_start)::date end as period_start, m.*
    from kpi_mismatch as m cross join kpi_grain as g
)
select period_grain, period_start, level, level_key, reported_visit_type, visit_type, sum(visits)::bigint as visits
from (
    select *, 'rep' as level, rep_id as level_key from base
    union all select *, 'team', team_key from base
    union all select *, 'company', 'company' from base
)
group by all;
