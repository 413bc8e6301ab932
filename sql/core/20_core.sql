-- Customer dates, targets and settings (the visit-type rule lives in transforms/classify.py; the
-- classified visits themselves are published once, as marts.fct_visit).

-- Grain: one row per account that is a customer. Key: account_id.
create table core.customer as
select account_id, customer_since from customers_frame;

-- Grain: one row per target mix: the company's (team NULL) or a team's, in force from valid_from
-- (NULL: always) until the next one of the same scope. Shares in 0..1 summing to 1.
create table core.target as
select team, coalesce(valid_from, date '0001-01-01') as valid_from,
       new_prospect_share, hot_prospect_share, existing_customer_share
from targets_frame;

-- Grain: exactly one row: the run's settings the marts read (fiscal year, KPI windows).
create table core.settings as
select fiscal_year_start_month::integer as fiscal_year_start_month, progression_window_days::integer as progression_window_days,
       win_window_days::integer as win_window_days
from settings_frame;
