-- Audit trail. Kept across runs (copied into every newly built warehouse file); the only place
-- run metadata lives, so identical inputs give identical marts.

-- One row per run, including failed runs. Grain: run. Key: run_id.
create table if not exists audit.pipeline_run (
    run_id            varchar primary key,
    flow_run_id       varchar,
    started_at        timestamptz not null,
    finished_at       timestamptz,
    status            varchar not null,          -- running | succeeded | failed
    error_message     varchar,
    config_sha256     varchar,
    rows_read         bigint,                    -- visit rows read (before `where`), incremental: rows extracted by this run
    rows_in_scope     bigint,                    -- visit rows after the source's `where` filter
    rows_quarantined  bigint,                    -- visit rows quarantined
    rows_classified   bigint,                    -- completed visits that got a visit type
    rows_published    bigint,                    -- rows in marts.fct_visit
    row_counts        json,                      -- per source: read, in_scope, superseded, quarantined, accepted
    step_seconds      json,                      -- wall-clock seconds per step of the run, in order
    run_mode          varchar,                   -- full | incremental (some source read from its watermark)
    watermark         json,                      -- incremental sources: {"visits": "<latest updated_at kept>", ...}
    rows_reclassified bigint,                    -- visits classified by this run (incremental: of touched accounts only)
    timezone          varchar,                   -- [classification].timezone: the zone reports show times in
    bounds            json                       -- the [validation] bounds in force: max_quarantine_share,
                                                 -- min_volume_share, max_unknown_reference_share (shares in 0..1)
);

-- One row per source file read by a run. Grain: run x source x file.
create table if not exists audit.source_file (
    run_id      varchar not null,
    source      varchar not null,
    file        varchar not null,
    size_bytes  bigint,                        -- of the bytes read
    sha256      varchar,                       -- of the bytes read, computed when they were read
    encoding    varchar,
    delimiter   varchar,                       -- CSV: as configured or detected
    skipped_empty_rows  bigint,                -- rows with every cell blank, and blank lines: not data
    skipped_footer_rows bigint                 -- trailing rows without a key value (report footers): not data
);

-- One row per expectation evaluated by a run. Grain: run x suite x expectation x column.
create table if not exists audit.dq_result (
    run_id             varchar not null,
    suite              varchar not null,
    expectation        varchar not null,
    column_name        varchar,
    severity           varchar not null,          -- info (a counter, never a failure) | warn | error
    outcome            varchar not null,          -- passed | failed | error
    element_count      bigint,
    unexpected_count   bigint,
    unexpected_sample  varchar,                   -- JSON list of "file:row", never cell values
    details            varchar,                   -- what happened in this run
    description        varchar                    -- what the check checks, whatever its outcome (plain language)
);

-- Rows held back from the marts, with the raw source row. Grain: run x source x file x row.
create table if not exists audit.quarantine (
    run_id      varchar not null,
    source      varchar not null,
    file        varchar not null,
    row_number  bigint not null,                  -- 1-based data row in the file, header not counted
    raw_row     json,
    reason      varchar not null
);
