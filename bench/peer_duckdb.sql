-- visitmix reference peer: the classification and the monthly mix in plain DuckDB SQL.
-- Run by bench/peer_duckdb.py, which sets the variables:
--   visits_path, accounts_path, deals_path   Parquet file or glob (the visits glob is one folder)
--   timezone                                 IANA zone of visit_date (icu, built in)
--   reengage_after_days                      INTEGER, or NULL: only the first-ever visit is new
-- String order is DuckDB's binary order (code points of UTF-8); COLLATE "C" makes that explicit
-- even where a session sets another default_collation.

CREATE TABLE fct_visit AS
WITH visits AS (
    SELECT visit_id, rep_id, account_id, visit_start, status, updated_at, filename
    FROM read_parquet(getvariable('visits_path'), filename = true)
),
-- newest version per visit_id: latest updated_at, then the file that sorts last (same folder,
-- so the path sorts as the name)
latest AS (
    SELECT visit_id, rep_id, account_id, visit_start, status
    FROM visits
    QUALIFY row_number() OVER (
        PARTITION BY visit_id
        ORDER BY updated_at DESC NULLS LAST, filename COLLATE "C" DESC
    ) = 1
),
customers AS (
    SELECT account_id, min(since) AS customer_since
    FROM (
        SELECT account_id, customer_since AS since
        FROM read_parquet(getvariable('accounts_path'))
        WHERE customer_since IS NOT NULL
        UNION ALL
        SELECT account_id, close_date
        FROM read_parquet(getvariable('deals_path'))
        WHERE is_won AND close_date IS NOT NULL
    )
    GROUP BY account_id
),
dated AS (
    SELECT
        l.*,
        (l.visit_start AT TIME ZONE getvariable('timezone'))::DATE AS visit_date,
        c.customer_since
    FROM latest AS l
    LEFT JOIN customers AS c USING (account_id)
),
-- the account's completed visits strictly earlier in (visit_start, visit_id) order; visit_id is
-- unique here, so "strictly earlier" is exactly the rows before this one. visit_date never
-- decreases along that order, so the latest earlier completed visit has the max visit_date.
history AS (
    SELECT
        *,
        count(*) FILTER (WHERE status = 'completed') OVER earlier AS prior_visit_count,
        max(visit_date) FILTER (WHERE status = 'completed') OVER earlier AS prior_visit_date
    FROM dated
    WINDOW earlier AS (
        PARTITION BY account_id
        ORDER BY visit_start, visit_id COLLATE "C"
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    )
)
SELECT
    visit_id,
    rep_id,
    account_id,
    visit_start,
    visit_date,
    status,
    CASE
        WHEN status <> 'completed' THEN NULL
        WHEN customer_since < visit_date THEN 'existing_customer'
        WHEN prior_visit_count = 0
            OR visit_date - prior_visit_date > getvariable('reengage_after_days') THEN 'new_prospect'
        ELSE 'hot_prospect'
    END AS visit_type,
    prior_visit_count,
    visit_date - prior_visit_date AS days_since_prior_visit,
    customer_since
FROM history;

CREATE TABLE visit_mix_monthly AS
SELECT
    month,
    rep_id,
    visits_total,
    new_prospect_visits,
    hot_prospect_visits,
    existing_customer_visits,
    new_prospect_visits::DOUBLE / visits_total AS new_prospect_share,
    hot_prospect_visits::DOUBLE / visits_total AS hot_prospect_share,
    existing_customer_visits::DOUBLE / visits_total AS existing_customer_share
FROM (
    SELECT
        date_trunc('month', visit_date)::DATE AS month,
        rep_id,
        count(*) AS visits_total,
        count(*) FILTER (WHERE visit_type = 'new_prospect') AS new_prospect_visits,
        count(*) FILTER (WHERE visit_type = 'hot_prospect') AS hot_prospect_visits,
        count(*) FILTER (WHERE visit_type = 'existing_customer') AS existing_customer_visits
    FROM fct_visit
    WHERE visit_type IS NOT NULL
    GROUP BY ALL
);
