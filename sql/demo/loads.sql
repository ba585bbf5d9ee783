-- title: Loads
-- description: What the demo loaded: per trust and outcome, the loads, the
--   latest extract, and the rows read, stored and quarantined.
-- source: the load log (README, Loading)
SELECT trust, outcome, count(*) AS loads, max(extract_date) AS latest_extract,
       sum(rows_read) AS rows_read, sum(rows_stored) AS rows_stored,
       sum(rows_quarantined) AS rows_quarantined
FROM loads
GROUP BY trust, outcome
ORDER BY trust, outcome
