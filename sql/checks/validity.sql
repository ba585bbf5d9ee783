-- title: Validity: the contract's warnings per trust, feed and day
-- description: Rows accepted with a warning (contract section 6), per trust,
--   feed and activity date (event date for rtt_events, extract date for
--   patients), with the day's rows as the denominator: invalid NHS numbers,
--   departures before arrival, decisions to admit outside the stay, discharges
--   before admission, future dates, A&E attendances left open over 24 hours,
--   unknown treatment functions. With by_extract, the rows are those the
--   extracts dated in the range delivered (the morning after a night);
--   otherwise those whose activity date is in it.
-- params: from_date date, to_date date, trust text, by_extract bool
-- source: contract sections 3 and 6; data-quality issue (validity)
WITH all_rows AS (
    SELECT trust, 'ae_attendances' AS feed, activity_date AS day, _extract_date, attendance_id AS record_id, _warnings FROM ae_attendances
    UNION ALL
    SELECT trust, 'inpatient_spells', activity_date, _extract_date, spell_id, _warnings FROM inpatient_spells
    UNION ALL
    SELECT trust, 'outpatient_appointments', activity_date, _extract_date, appointment_id, _warnings FROM outpatient_appointments
    UNION ALL
    SELECT trust, 'referrals', activity_date, _extract_date, referral_id, _warnings FROM referrals
    UNION ALL
    SELECT trust, 'rtt_events', event_date, _extract_date, event_id, _warnings FROM rtt_events
    UNION ALL
    SELECT trust, 'patients', _extract_date AS day, _extract_date, local_patient_id, _warnings FROM patients
),
scoped AS (
    SELECT *
    FROM all_rows
    WHERE (CASE WHEN $by_extract THEN _extract_date ELSE day END) BETWEEN $from_date AND $to_date
      AND ($trust = '' OR trust = $trust)
),
totals AS (
    SELECT trust, feed, day, count(*) AS n FROM scoped GROUP BY trust, feed, day
),
codes AS (
    SELECT * FROM (VALUES
        ('invalid_nhs_number', 'validity.invalid_nhs_number'),
        ('departure_before_arrival', 'validity.departure_before_arrival'),
        ('discharge_before_admission', 'validity.discharge_before_admission'),
        ('decision_to_admit_outside_stay', 'validity.decision_to_admit_outside_stay'),
        ('future_activity_date', 'validity.future_date'),
        ('ae_open_over_24h', 'validity.ae_left_open'),
        ('unknown_treatment_function', 'validity.unknown_treatment_function')
    ) AS c(code, check_id)
)
SELECT
    c.check_id,
    s.trust,
    s.feed,
    s.day,
    count(*) AS count,
    max(t.n) AS denominator,
    -- Patients are keyed by their local id: never shown in a summary.
    CASE WHEN s.feed = 'patients' THEN NULL ELSE string_agg(s.record_id, ',' ORDER BY s.record_id) END AS keys
FROM scoped s
JOIN codes c ON strpos(s._warnings, c.code) > 0
JOIN totals t ON t.trust = s.trust AND t.feed = s.feed AND t.day = s.day
GROUP BY c.check_id, s.trust, s.feed, s.day
