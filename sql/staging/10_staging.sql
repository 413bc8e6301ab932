-- Canonical rows that passed row-level validation, as loaded this run (full refresh).
-- Grain: one row per source row. Keys: visit_id / account_id / deal_id / rep_id.
create table staging.visits as
select visit_id, rep_id, account_id, visit_start, status, reported_type, channel, duration_min, deal_id,
       source_file, source_row_number
from visits_frame;

create table staging.accounts as
select account_id, account_name, customer_since, region, segment, source_file, source_row_number
from accounts_frame;

create table staging.deals as
select deal_id, account_id, is_won, close_date, amount, rep_id, source_file, source_row_number
from deals_frame;

create table staging.reps as
select rep_id, rep_name, team, region, source_file, source_row_number
from reps_frame;
