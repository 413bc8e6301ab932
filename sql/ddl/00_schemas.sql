-- Warehouse layers: staging (canonical rows as loaded) -> core (classified) -> marts (for BI), plus audit.
create schema if not exists staging;
create schema if not exists core;
create schema if not exists marts;
create schema if not exists audit;
