-- marts.dim_account: one row per account id seen in any input (accounts, visits, deals).
-- Key: account_id. customer_since = the earlier of the declared date and the first won deal's
-- close date (computed in transforms/customers.py). Full refresh each run.
create table marts.dim_account as
with
account_ids as (
    select account_id from staging.accounts
    union select account_id from visit_accounts_frame  -- ids the visits use beyond the accounts input
    union select account_id from staging.deals
),
accounts as (
    select account_id, account_name, region, segment from staging.accounts
),
final as (
    select ids.account_id, accounts.account_name, customer.customer_since, accounts.region, accounts.segment
    from account_ids as ids
    left join accounts using (account_id)
    left join core.customer as customer using (account_id)
    where ids.account_id is not null
)
select * from final order by account_id;
