-- title: RTT integrity at a census date
-- description: Per trust: events the clock walk could not apply (a start
--   while a period is open, a stop without a start, activity or a stop on a
--   closed pathway, a transfer with no open period, a 33 after the first
--   activity) and periods transferred out; open periods with an unknown clock
--   start (every pathway listed, for validation); more than one open period
--   for a patient and treatment function; open pathways with no event for 12
--   weeks or more; clock starts dated after the extract was taken.
-- params: census_date date, trust text
-- source: contract section 5; data-quality issue (RTT integrity)
WITH at_census AS (
    SELECT *
    FROM rtt_period_history
    WHERE valid_from <= $census_date
      AND (valid_to IS NULL OR valid_to > $census_date)
      AND ($trust = '' OR trust = $trust)
),
open_periods AS (
    SELECT * FROM at_census WHERE status = 'open'
),
patients AS (
    SELECT DISTINCT trust, pathway_id, local_patient_id FROM rtt_events
),
walk AS (
    SELECT 'rtt.' || finding AS check_id, trust, pathway_id AS record_id
    FROM rtt_findings
    WHERE event_date <= $census_date AND ($trust = '' OR trust = $trust)
),
unknown_start AS (
    SELECT 'rtt.unknown_clock_start' AS check_id, trust, pathway_id AS record_id
    FROM open_periods WHERE clock_start IS NULL
),
stale AS (
    SELECT 'rtt.no_event_12_weeks' AS check_id, trust, pathway_id AS record_id
    FROM open_periods WHERE $census_date - last_event_date >= 84
),
multiple AS (
    SELECT 'rtt.multiple_open_periods' AS check_id, o.trust, o.pathway_id AS record_id
    FROM open_periods o
    JOIN patients p ON p.trust = o.trust AND p.pathway_id = o.pathway_id
    JOIN (
        SELECT o2.trust, p2.local_patient_id, o2.treatment_function_code
        FROM open_periods o2
        JOIN patients p2 ON p2.trust = o2.trust AND p2.pathway_id = o2.pathway_id
        GROUP BY o2.trust, p2.local_patient_id, o2.treatment_function_code
        HAVING count(*) > 1
    ) m ON m.trust = o.trust AND m.local_patient_id = p.local_patient_id
        AND m.treatment_function_code = o.treatment_function_code
),
future AS (
    SELECT 'rtt.future_clock_start' AS check_id, trust, event_id AS record_id
    FROM rtt_events
    WHERE rtt_status IN ('10', '11', '12')
      AND event_date > london_date(_extracted_at)
      AND ($trust = '' OR trust = $trust)
),
everything AS (
    SELECT * FROM walk
    UNION ALL SELECT * FROM unknown_start
    UNION ALL SELECT * FROM stale
    UNION ALL SELECT * FROM multiple
    UNION ALL SELECT * FROM future
)
SELECT
    check_id,
    trust,
    'rtt_events' AS feed,
    $census_date AS day,
    count(*) AS count,
    CAST(NULL AS BIGINT) AS denominator,
    string_agg(record_id, ',' ORDER BY record_id) AS keys
FROM everything
GROUP BY check_id, trust
