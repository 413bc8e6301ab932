-- Canonical rows of the small inputs that passed row-level validation, as loaded this run (full
-- refresh). Grain: one row per source row. Keys: account_id / deal_id / rep_id. The visits are
-- not copied here: they go once, classified, straight into marts.fct_visit (classified_frame is
-- the run's frame of classified visits).
create table staging.accounts as
select account_id, account_name, customer_since, region, segment, rep_id, source_file, source_row_number
from accounts_frame;

create table staging.deals as
select deal_id, account_id, is_won, close_date, amount, rep_id, source_file, source_row_number
from deals_frame;

create table staging.reps as
select rep_id, rep_name, team, region, valid_from, valid_to, source_file, source_row_number
from reps_frame;
