-- title: The load log
-- description: Every load attempt in the caller's scope, oldest first
--   (GET /api/loads).
-- source: README, Loading
SELECT load_id, trust, extract_date, extracted_at, source_system, outcome, late,
       refusal, message, started_at, finished_at, files, rows_read, rows_stored,
       rows_quarantined, rows_rejected, rows_warned, rows_superseded
FROM loads
ORDER BY load_id
