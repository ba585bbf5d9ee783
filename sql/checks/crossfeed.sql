-- title: Cross-feed consistency in a month
-- description: Per trust, for the month: admitted A&E attendances against
--   emergency admissions via A&E (method 21) in inpatient_spells, with the
--   admitted attendances no spell names; outpatient first attendances against
--   referrals received; admitted RTT clock stops against elective admissions
--   (methods 11-13), with the admitted stops whose patient was admitted that
--   day only as a non-elective (an elective recorded as a non-elective).
-- params: period_start date, period_end date, census_date date, trust text
-- source: data-quality issue (cross-feed consistency); returns spec sections
--   1-3 for each side's definition
WITH ae AS (
    SELECT trust, attendance_id, local_patient_id
    FROM ae_attendances
    WHERE admitted AND activity_date BETWEEN $period_start AND $period_end
      AND ($trust = '' OR trust = $trust)
),
spells AS (
    SELECT s.*, m.category
    FROM inpatient_spells s
    LEFT JOIN ref_admission_methods m ON m.code = s.admission_method
    WHERE s.activity_date BETWEEN $period_start AND $period_end
      AND ($trust = '' OR s.trust = $trust)
),
via_ae AS (
    SELECT trust, count(*) AS n FROM spells WHERE admission_method = '21' GROUP BY trust
),
ae_check AS (
    SELECT
        'crossfeed.ae_admissions_vs_spells' AS check_id,
        a.trust,
        'ae_attendances' AS feed,
        count(*) AS count,
        max(COALESCE(v.n, 0)) AS denominator,
        string_agg(CASE WHEN s.spell_id IS NULL THEN a.attendance_id END, ',' ORDER BY a.attendance_id) AS keys
    FROM ae a
    LEFT JOIN (SELECT DISTINCT trust, ae_attendance_id, spell_id FROM inpatient_spells
               WHERE ae_attendance_id IS NOT NULL) s
        ON s.trust = a.trust AND s.ae_attendance_id = a.attendance_id
    LEFT JOIN via_ae v ON v.trust = a.trust
    GROUP BY a.trust
),
first_op AS (
    SELECT trust, count(*) AS n
    FROM outpatient_appointments
    WHERE activity_date BETWEEN $period_start AND $period_end
      AND attendance_status IN ('5', '6') AND first_attendance IN ('1', '3')
      AND ($trust = '' OR trust = $trust)
    GROUP BY trust
),
refs AS (
    SELECT trust, count(*) AS n
    FROM referrals
    WHERE activity_date BETWEEN $period_start AND $period_end
      AND ($trust = '' OR trust = $trust)
    GROUP BY trust
),
op_check AS (
    SELECT
        'crossfeed.first_attendances_vs_referrals' AS check_id,
        COALESCE(f.trust, r.trust) AS trust,
        'outpatient_appointments' AS feed,
        COALESCE(f.n, 0) AS count,
        COALESCE(r.n, 0) AS denominator,
        CAST(NULL AS VARCHAR) AS keys
    FROM first_op f
    FULL OUTER JOIN refs r ON r.trust = f.trust
),
stops AS (
    SELECT e.trust, e.pathway_id, e.event_date, e.local_patient_id
    FROM rtt_events e
    WHERE e.rtt_status = '30' AND e.activity = 'ADMISSION'
      AND e.event_date BETWEEN $period_start AND $period_end
      AND ($trust = '' OR e.trust = $trust)
),
elective AS (
    SELECT trust, count(*) AS n FROM spells WHERE category = 'elective' GROUP BY trust
),
stop_check AS (
    SELECT
        'crossfeed.rtt_stops_vs_elective_admissions' AS check_id,
        s.trust,
        'rtt_events' AS feed,
        count(*) AS count,
        max(COALESCE(el.n, 0)) AS denominator,
        CAST(NULL AS VARCHAR) AS keys
    FROM stops s
    LEFT JOIN elective el ON el.trust = s.trust
    GROUP BY s.trust
),
recorded_non_elective AS (
    SELECT
        'crossfeed.elective_recorded_as_non_elective' AS check_id,
        s.trust,
        'inpatient_spells' AS feed,
        count(*) AS count,
        CAST(NULL AS BIGINT) AS denominator,
        string_agg(s.pathway_id, ',' ORDER BY s.pathway_id) AS keys
    FROM stops s
    WHERE EXISTS (
        SELECT 1 FROM spells sp
        WHERE sp.trust = s.trust AND sp.local_patient_id = s.local_patient_id
          AND sp.activity_date = s.event_date AND sp.category <> 'elective'
    )
    AND NOT EXISTS (
        SELECT 1 FROM spells sp
        WHERE sp.trust = s.trust AND sp.local_patient_id = s.local_patient_id
          AND sp.activity_date = s.event_date AND sp.category = 'elective'
    )
    GROUP BY s.trust
)
SELECT check_id, trust, feed, $census_date AS day, count, denominator, keys FROM ae_check
UNION ALL SELECT check_id, trust, feed, $census_date, count, denominator, keys FROM op_check
UNION ALL SELECT check_id, trust, feed, $census_date, count, denominator, keys FROM stop_check
UNION ALL SELECT check_id, trust, feed, $census_date, count, denominator, keys FROM recorded_non_elective
