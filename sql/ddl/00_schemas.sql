-- Warehouse layers: staging (canonical rows as loaded) -> core (classified) -> marts (for BI), plus audit and state.
create schema if not exists staging;
create schema if not exists core;
create schema if not exists marts;
create schema if not exists audit;
-- state: incremental runs only, what the next run starts from (not for BI)
create schema if not exists state;
