-- Customer dates and the target mix (the visit-type rule lives in transforms/classify.py; the
-- classified visits themselves are published once, as marts.fct_visit).

-- Grain: one row per account that is a customer. Key: account_id.
create table core.customer as
select account_id, customer_since from customers_frame;

-- Grain: exactly one row, the configured target shares (0..1, summing to 1).
create table core.target_mix as
select new_prospect_share, hot_prospect_share, existing_customer_share from target_mix_frame;
