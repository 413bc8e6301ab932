-- Rows per published mart, for the run summary. Parameters: none.
select 'dim_account' as mart, count(*) as n from marts.dim_account
union all select 'dim_rep', count(*) from marts.dim_rep
union all select 'fct_visit', count(*) from marts.fct_visit
union all select 'visit_mix_monthly', count(*) from marts.visit_mix_monthly
order by mart
