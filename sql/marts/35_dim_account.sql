-- marts.dim_account: one row per account id seen in any input (accounts, visits, deals).
-- Key: account_id. customer_since = the earlier of the declared date and the first won deal's
-- close date (computed in transforms/customers.py). first/last_visit_date: the account's first and
-- last completed visits (local dates). lifecycle_stage: customer (won, as of the data), prospect
-- (visited, not won) or unvisited. rep_id: the owner rep, where the accounts input has one.
-- Built after marts.fct_visit. Full refresh each run.
create table marts.dim_account as
with
account_ids as (
    select account_id from staging.accounts
    union select account_id from visit_accounts_frame  -- ids the visits use beyond the accounts input
    union select account_id from staging.deals
),
accounts as (
    select account_id, account_name, region, segment, rep_id from staging.accounts
),
visited as (
    select account_id, min(visit_date) as first_visit_date, max(visit_date) as last_visit_date
    from marts.fct_visit
    where status = 'completed'
    group by account_id
),
final as (
    select
        ids.account_id,
        accounts.account_name,
        customer.customer_since,
        accounts.region,
        accounts.segment,
        accounts.rep_id,
        visited.first_visit_date,
        visited.last_visit_date,
        case
            when customer.customer_since is not null then 'customer'
            when visited.first_visit_date is not null then 'prospect'
            else 'unvisited'
        end as lifecycle_stage
    from account_ids as ids
    left join accounts using (account_id)
    left join core.customer as customer using (account_id)
    left join visited using (account_id)
    where ids.account_id is not null
)
select * from final order by account_id;
