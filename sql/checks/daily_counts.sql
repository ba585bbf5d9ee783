-- title: Rows per trust, period feed and activity date
-- description: The daily counts the volume and no-activity checks compare
--   with each trust's own recent history.
-- params: from_date date, to_date date, trust text
-- source: data-quality issue (volume; days with no activity)
WITH all_rows AS (
    SELECT trust, 'ae_attendances' AS feed, activity_date FROM ae_attendances
    UNION ALL SELECT trust, 'inpatient_spells', activity_date FROM inpatient_spells
    UNION ALL SELECT trust, 'outpatient_appointments', activity_date FROM outpatient_appointments
    UNION ALL SELECT trust, 'referrals', activity_date FROM referrals
)
SELECT trust, feed, activity_date AS day, count(*) AS n
FROM all_rows
WHERE activity_date BETWEEN $from_date AND $to_date
  AND ($trust = '' OR trust = $trust)
GROUP BY trust, feed, activity_date
