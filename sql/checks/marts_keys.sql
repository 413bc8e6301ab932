-- Audits of the built marts: each query returns offending rows; empty = pass. Run before publishing.
-- One result set: (mart, problem, key).
select 'marts.fct_visit' as mart, 'visit_id null or duplicated' as problem, visit_id as key
from marts.fct_visit group by visit_id having visit_id is null or count(*) > 1
union all
select 'marts.dim_rep', 'rep_id null or duplicated', rep_id
from marts.dim_rep group by rep_id having rep_id is null or count(*) > 1
union all
select 'marts.dim_account', 'account_id null or duplicated', account_id
from marts.dim_account group by account_id having account_id is null or count(*) > 1
union all
select 'marts.visit_mix_monthly', 'month/rep_id null or duplicated', strftime(month, '%Y-%m') || '/' || rep_id
from marts.visit_mix_monthly group by month, rep_id having month is null or rep_id is null or count(*) > 1
union all
select 'marts.visit_mix_monthly', 'shares do not sum to 1', strftime(month, '%Y-%m') || '/' || rep_id
from marts.visit_mix_monthly
where abs(new_prospect_share + hot_prospect_share + existing_customer_share - 1) > 1e-9;
