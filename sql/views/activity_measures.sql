-- title: Activity rows with the monthly activity return measure they count in
-- description: Every referral, outpatient appointment and inpatient spell, with
--   the general and acute (G&A) measure it counts in, or a null measure when it
--   counts in none (it still makes its provider x commissioner appear). G&A is
--   every treatment function except mental health (700-729) and maternity (501,
--   560). Outpatient measures count consultant-led appointments only
--   (consultant_led not false).
-- source: returns spec section 3
WITH ga AS (
    SELECT 'referrals' AS feed, trust, commissioner_code, activity_date, treatment_function_code,
           CASE
               WHEN referral_source = '03' THEN 'gp_referrals'
               WHEN referral_source IN ('01', '02', '10', '11', '06') THEN NULL
               ELSE 'other_referrals'
           END AS measure
    FROM referrals
    UNION ALL
    SELECT 'outpatient_appointments', trust, commissioner_code, activity_date, treatment_function_code,
           CASE
               WHEN consultant_led IS NOT DISTINCT FROM false THEN NULL
               WHEN attendance_status IN ('5', '6') AND first_attendance IN ('1', '3') THEN 'first_attendances'
               WHEN attendance_status IN ('5', '6') AND first_attendance IN ('2', '4') THEN 'follow_up_attendances'
               WHEN attendance_status = '3' THEN 'did_not_attend'
           END
    FROM outpatient_appointments
    UNION ALL
    SELECT 'inpatient_spells', s.trust, s.commissioner_code, s.activity_date, s.treatment_function_code,
           CASE
               WHEN m.category = 'elective' AND s.patient_classification = '1' THEN 'elective_ordinary'
               WHEN m.category = 'elective' AND s.patient_classification = '2' THEN 'elective_day_case'
               WHEN m.non_elective = 'true' THEN 'non_elective'
           END
    FROM inpatient_spells s
    LEFT JOIN ref_admission_methods m ON m.code = s.admission_method
)
SELECT
    feed,
    trust,
    commissioner_code,
    activity_date,
    treatment_function_code,
    CASE
        WHEN treatment_function_code BETWEEN '700' AND '729' THEN NULL
        WHEN treatment_function_code IN ('501', '560') THEN NULL
        ELSE measure
    END AS measure
FROM ga
