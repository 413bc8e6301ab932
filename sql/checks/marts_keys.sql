-- Audits of the built marts: each row is a problem found; empty = pass. Run before publishing.
-- One result set: (mart, problem, rows affected) — counts only, never key values (ids are data).
-- marts.fct_visit's key is checked on the classified visits by the fct_visit suite; here, that
-- the join with dim_rep's history kept one row per classified visit.
with
fct_rows as (
    select (select count(*) from marts.fct_visit) - (select count(*) from classified_frame) as extra
)
select 'marts.fct_visit' as mart, 'rows differ from the classified visits' as problem, abs(extra) as affected
from fct_rows where extra <> 0
union all
select 'marts.dim_rep', 'rep_id/valid_from null or duplicated', count(*)
from (select 1 from marts.dim_rep group by rep_id, valid_from having rep_id is null or count(*) > 1) having count(*) > 0
union all
select 'marts.dim_account', 'account_id null or duplicated', count(*)
from (select account_id from marts.dim_account group by account_id having account_id is null or count(*) > 1) having count(*) > 0
union all
select 'marts.visit_mix_monthly', 'month/rep_id null or duplicated', count(*)
from (select 1 from marts.visit_mix_monthly group by month, rep_id having month is null or rep_id is null or count(*) > 1) having count(*) > 0
union all
select 'marts.visit_mix', 'key null or duplicated', count(*)
from (select 1 from marts.visit_mix group by period_grain, period_start, level, level_key
      having period_start is null or level_key is null or count(*) > 1) having count(*) > 0
union all
select 'marts.visit_kpi', 'key null or duplicated', count(*)
from (select 1 from marts.visit_kpi group by period_grain, period_start, level, level_key
      having period_start is null or level_key is null or count(*) > 1) having count(*) > 0
union all
select mart, 'shares do not sum to 1', count(*)
from (
    select 'marts.visit_mix_monthly' as mart, new_prospect_share + hot_prospect_share + existing_customer_share as total
    from marts.visit_mix_monthly
    union all
    select 'marts.visit_mix', new_prospect_share + hot_prospect_share + existing_customer_share
    from marts.visit_mix where visits_total > 0
)
where abs(total - 1) > 1e-9
group by mart
union all
select 'marts.visit_mix', 'a level counts a different total than the company', count(*)
from (
    select period_grain, period_start, level, sum(visits_total) as total
    from marts.visit_mix group by all
) as levels
join (select period_grain, period_start, visits_total from marts.visit_mix where level = 'company') as company
    using (period_grain, period_start)
where levels.total <> company.visits_total
having count(*) > 0;
