-- State of incremental runs (issue #12): what the next run needs, written whole by every run that
-- publishes and only then (a failed run leaves it as it was). Not for BI: the marts hold the answers.
-- Beside these two tables a run stores, for each source in mode = "incremental", the newest version
-- of every row before the row checks (state.<source>_rows: the canonical columns, lineage and
-- parse_error) and, when visits are incremental, the classified visits (state.classified_visit) and
-- customer_since per account (state.customer) it classified them with.

-- One row per incremental source. Grain: source. Key: source.
create table if not exists state.watermark (
    source      varchar primary key,   -- visits | accounts | deals | reps
    watermark   timestamptz,           -- latest updated_at of the kept rows: the next run extracts rows at or after it
    kept_rows   bigint not null,       -- rows in state.<source>_rows
    settings    varchar,               -- hash of the source's settings the rows were read with: when it
                                       -- changes, the next run reads the source whole
    run_id      varchar not null       -- the run that published this state
);

-- The classification settings state.classified_visit was computed with; when they change, every
-- visit is classified again. Grain: one row.
create table if not exists state.classification (
    fingerprint varchar not null,
    run_id      varchar not null
);

-- The day/month order of each text date column of an incremental source with date_order = "auto",
-- as decided over the rows kept so far: a later batch whose dates decide nothing is read the same
-- way, one that contradicts an assumed order stops the run (sources.<name>.date_order, --full-refresh).
-- Grain: source, column. Key: (source, column_name).
create table if not exists state.date_order (
    source      varchar not null,      -- visits | accounts | deals | reps
    column_name varchar not null,      -- the canonical column (visit_start, close_date …)
    date_order  varchar not null,      -- dmy | mdy
    is_assumed  boolean not null,      -- no date read so far decided it (day first assumed)
    run_id      varchar not null
);
