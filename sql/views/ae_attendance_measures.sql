-- title: A&E attendances with their return measures
-- description: Every stored A&E attendance with the measures of the monthly
--   A&E return: its return type (1, 2 or other), whether it was over 4 hours
--   and over 12 hours from arrival (whole minutes, seconds truncated; with no
--   departure, judged at the extract's extracted_at), and for admitted
--   attendances with a decision to admit and a departure, the wait from the
--   decision to admit to departure in whole minutes.
-- source: returns spec section 2; contract section 3 (durations between
--   instants in whole minutes)
SELECT
    a.trust,
    a.activity_date,
    a.attendance_id,
    a.department_type,
    d.ae_type,
    a.booked_appointment AS booked,
    a.admitted,
    a.commissioner_code,
    a.departure_time IS NULL AS still_in_department,
    whole_minutes(a.arrival_time, COALESCE(a.departure_time, a._extracted_at)) AS minutes_in_department,
    whole_minutes(a.arrival_time, COALESCE(a.departure_time, a._extracted_at)) > 240 AS over_4h,
    whole_minutes(a.arrival_time, COALESCE(a.departure_time, a._extracted_at)) > 720 AS over_12h,
    CASE
        WHEN a.admitted AND a.decision_to_admit_time IS NOT NULL AND a.departure_time IS NOT NULL
        THEN whole_minutes(a.decision_to_admit_time, a.departure_time)
    END AS dta_wait_minutes
FROM ae_attendances a
LEFT JOIN ref_department_types d ON d.code = a.department_type
