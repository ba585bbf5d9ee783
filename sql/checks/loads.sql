-- title: Rejected and duplicated rows per trust, feed and extract
-- description: For each load of an extract dated in the range: the rows
--   rejected (every reason of contract section 6 but exact duplicates) as a
--   share of the rows read, and the extra copies of exact duplicates, each with
--   the ids of the rows concerned (the row number where a row has no id).
-- params: from_date date, to_date date, trust text
-- source: contract section 6; data-quality issue (completeness: rejected rows
--   per trust x feed x day; duplicated pathways)
WITH files AS (
    SELECT load_id, trust, extract_date, feed, sum(rows_read) AS rows_read
    FROM load_files
    WHERE extract_date BETWEEN $from_date AND $to_date
      AND ($trust = '' OR trust = $trust)
    GROUP BY load_id, trust, extract_date, feed
),
q AS (
    SELECT
        load_id,
        feed,
        CASE WHEN reason = 'exact_duplicate' THEN 'completeness.duplicate_rows'
             ELSE 'completeness.rejected_rows' END AS check_id,
        COALESCE(record_id, 'row ' || CAST(row_number AS VARCHAR)) AS record_id
    FROM quarantine
    WHERE reason IN ('missing_required', 'invalid_code', 'invalid_datetime', 'outside_covers',
                     'duplicate_id', 'exact_duplicate')
)
SELECT
    q.check_id,
    f.trust,
    f.feed,
    f.extract_date AS day,
    count(*) AS count,
    max(f.rows_read) AS denominator,
    string_agg(q.record_id, ',' ORDER BY q.record_id) AS keys
FROM q
JOIN files f ON f.load_id = q.load_id AND f.feed = q.feed
GROUP BY q.check_id, f.trust, f.feed, f.extract_date
UNION ALL
SELECT
    'consistency.id_superseded' AS check_id,
    s.trust,
    s.feed,
    l.extract_date AS day,
    count(*) AS count,
    CAST(NULL AS BIGINT) AS denominator,
    string_agg(s.record_id, ',' ORDER BY s.record_id) AS keys
FROM superseded s
JOIN loads l ON l.load_id = s.load_id
WHERE l.extract_date BETWEEN $from_date AND $to_date
  AND ($trust = '' OR s.trust = $trust)
GROUP BY s.trust, s.feed, l.extract_date
