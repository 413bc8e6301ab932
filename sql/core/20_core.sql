-- Classified visits (the rule lives in transforms/classify.py), customer dates and the target mix.

-- Grain: one row per visit. Key: visit_id.
create table core.visit as
select visit_id, rep_id, account_id, deal_id, visit_start, visit_date, status, channel, duration_min,
       reported_type, customer_since, prior_visit_count, prior_visit_date, days_since_prior_visit,
       visit_type, visit_type_label, is_reported_type_mismatch
from classified_frame;

-- Grain: one row per account that is a customer. Key: account_id.
create table core.customer as
select account_id, customer_since from customers_frame;

-- Grain: exactly one row, the configured target shares (0..1, summing to 1).
create table core.target_mix as
select new_prospect_share, hot_prospect_share, existing_customer_share from target_mix_frame;
