-- title: A&E performance: the 4-hour standard and 12-hour waits
-- name: ae-performance
-- description: Per provider and ICS-wide, by type (Type 1, Type 2, Other) and
--   in total, booked appointments included: attendances, those within 4 hours,
--   the 4-hour performance (1 - over 4 hours / attendances, as a percentage),
--   attendances over 12 hours from arrival, and waits over 12 hours from a
--   decision to admit to admission.
-- params: period_start date, period_end date, trust text
-- rates: pct_within_4_hours = 100 * within_4_hours / attendances
-- source: returns spec section 2 (headline: 4-hour performance, 12 hours from
--   arrival)
WITH a AS (
    SELECT *
    FROM ae_attendance_measures
    WHERE activity_date BETWEEN $period_start AND $period_end
      AND ($trust = '' OR trust = $trust)
)
SELECT
    CASE WHEN grouping(trust) = 1 THEN 'ics' ELSE 'provider' END AS level,
    trust AS provider,
    CASE
        WHEN grouping(ae_type) = 1 THEN 'All'
        WHEN ae_type = '1' THEN 'Type 1'
        WHEN ae_type = '2' THEN 'Type 2'
        ELSE 'Other'
    END AS type,
    count(*) AS attendances,
    count(*) FILTER (WHERE NOT over_4h) AS within_4_hours,
    round(100.0 * count(*) FILTER (WHERE NOT over_4h) / count(*), 2) AS pct_within_4_hours,
    count(*) FILTER (WHERE over_12h) AS over_12_hours_from_arrival,
    count(*) FILTER (WHERE dta_wait_minutes > 720) AS dta_over_12_hours
FROM a
GROUP BY GROUPING SETS ((trust, ae_type), (trust), (ae_type), ())
ORDER BY
    CASE level WHEN 'ics' THEN 0 ELSE 1 END,
    provider,
    CASE type WHEN 'Type 1' THEN 1 WHEN 'Type 2' THEN 2 WHEN 'Other' THEN 3 ELSE 4 END
