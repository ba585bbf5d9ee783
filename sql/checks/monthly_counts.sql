-- title: Rows per trust, period feed and month, and outpatient first attendances
-- description: Monthly counts for the monthly volume check and the
--   comparison of first attendances with referrals over recent months.
-- params: from_date date, to_date date, trust text
-- source: data-quality issue (volume; cross-feed consistency)
WITH all_rows AS (
    SELECT trust, 'ae_attendances' AS measure, activity_date FROM ae_attendances
    UNION ALL SELECT trust, 'inpatient_spells', activity_date FROM inpatient_spells
    UNION ALL SELECT trust, 'outpatient_appointments', activity_date FROM outpatient_appointments
    UNION ALL SELECT trust, 'referrals', activity_date FROM referrals
    UNION ALL
    SELECT trust, 'first_attendances', activity_date
    FROM outpatient_appointments
    WHERE attendance_status IN ('5', '6') AND first_attendance IN ('1', '3')
)
SELECT trust, measure, CAST(date_trunc('month', activity_date) AS DATE) AS month, count(*) AS n
FROM all_rows
WHERE activity_date BETWEEN $from_date AND $to_date
  AND ($trust = '' OR trust = $trust)
GROUP BY 1, 2, 3
