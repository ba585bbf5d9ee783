-- title: A&E attendances and emergency admissions monthly return
-- description: One row per provider with any A&E attendance or inpatient spell
--   in the month (an attendance belongs to the month of its London arrival
--   date). Type 1 = department 01, Type 2 = 02, Other = 03 and 04. Unbooked
--   columns exclude booked appointments; booked columns hold only them. Over 4
--   hours: more than 240 whole minutes from arrival to departure (with no
--   departure, to the extract's extracted_at). DTA waits: admitted attendances
--   with a decision to admit and a departure, over 4 and up to 12 hours, and
--   over 12 hours. Emergency admissions via A&E: admitted attendances by type.
--   Other emergency admissions: spells admitted in the month with method 22,
--   23, 24, 25, 28, 2A, 2B, 2C or 2D.
-- params: period_start date, period_end date, period_label text, trust text
-- source: returns spec section 2; NHS England A&E Attendances and Emergency
--   Admissions monthly return definitions
WITH a AS (
    SELECT *
    FROM ae_attendance_measures
    WHERE activity_date BETWEEN $period_start AND $period_end
      AND ($trust = '' OR trust = $trust)
),
ae AS (
    SELECT
        trust,
        count(*) FILTER (WHERE ae_type = '1' AND NOT booked) AS att_1,
        count(*) FILTER (WHERE ae_type = '2' AND NOT booked) AS att_2,
        count(*) FILTER (WHERE ae_type = 'other' AND NOT booked) AS att_o,
        count(*) FILTER (WHERE ae_type = '1' AND booked) AS book_1,
        count(*) FILTER (WHERE ae_type = '2' AND booked) AS book_2,
        count(*) FILTER (WHERE ae_type = 'other' AND booked) AS book_o,
        count(*) FILTER (WHERE ae_type = '1' AND NOT booked AND over_4h) AS over_1,
        count(*) FILTER (WHERE ae_type = '2' AND NOT booked AND over_4h) AS over_2,
        count(*) FILTER (WHERE ae_type = 'other' AND NOT booked AND over_4h) AS over_o,
        count(*) FILTER (WHERE ae_type = '1' AND booked AND over_4h) AS book_over_1,
        count(*) FILTER (WHERE ae_type = '2' AND booked AND over_4h) AS book_over_2,
        count(*) FILTER (WHERE ae_type = 'other' AND booked AND over_4h) AS book_over_o,
        count(*) FILTER (WHERE dta_wait_minutes > 240 AND dta_wait_minutes <= 720) AS dta_4_12,
        count(*) FILTER (WHERE dta_wait_minutes > 720) AS dta_12,
        count(*) FILTER (WHERE ae_type = '1' AND admitted) AS adm_1,
        count(*) FILTER (WHERE ae_type = '2' AND admitted) AS adm_2,
        count(*) FILTER (WHERE ae_type = 'other' AND admitted) AS adm_o
    FROM a
    GROUP BY trust
),
ip AS (
    SELECT
        s.trust,
        count(*) FILTER (WHERE m.other_emergency = 'true') AS other_emergency
    FROM inpatient_spells s
    LEFT JOIN ref_admission_methods m ON m.code = s.admission_method
    WHERE s.activity_date BETWEEN $period_start AND $period_end
      AND ($trust = '' OR s.trust = $trust)
    GROUP BY s.trust
),
providers AS (
    SELECT trust FROM ae
    UNION
    SELECT trust FROM ip
)
SELECT
    $period_label AS "Period",
    p.trust AS "Org Code",
    COALESCE(t.name, o.name, p.trust) AS "Org Name",
    COALESCE(ae.att_1, 0) AS "A&E attendances Type 1",
    COALESCE(ae.att_2, 0) AS "A&E attendances Type 2",
    COALESCE(ae.att_o, 0) AS "A&E attendances Other A&E Department",
    COALESCE(ae.book_1, 0) AS "A&E attendances Booked Appointments Type 1",
    COALESCE(ae.book_2, 0) AS "A&E attendances Booked Appointments Type 2",
    COALESCE(ae.book_o, 0) AS "A&E attendances Booked Appointments Other Department",
    COALESCE(ae.over_1, 0) AS "Attendances over 4hrs Type 1",
    COALESCE(ae.over_2, 0) AS "Attendances over 4hrs Type 2",
    COALESCE(ae.over_o, 0) AS "Attendances over 4hrs Other Department",
    COALESCE(ae.book_over_1, 0) AS "Attendances over 4hrs Booked Appointments Type 1",
    COALESCE(ae.book_over_2, 0) AS "Attendances over 4hrs Booked Appointments Type 2",
    COALESCE(ae.book_over_o, 0) AS "Attendances over 4hrs Booked Appointments Other Department",
    COALESCE(ae.dta_4_12, 0) AS "Patients who have waited 4-12 hs from DTA to admission",
    COALESCE(ae.dta_12, 0) AS "Patients who have waited 12+ hrs from DTA to admission",
    COALESCE(ae.adm_1, 0) AS "Emergency admissions via A&E - Type 1",
    COALESCE(ae.adm_2, 0) AS "Emergency admissions via A&E - Type 2",
    COALESCE(ae.adm_o, 0) AS "Emergency admissions via A&E - Other A&E department",
    COALESCE(ip.other_emergency, 0) AS "Other emergency admissions"
FROM providers p
LEFT JOIN ae ON ae.trust = p.trust
LEFT JOIN ip ON ip.trust = p.trust
LEFT JOIN trusts t ON t.trust = p.trust
LEFT JOIN ref_trusts o ON o.ods_code = p.trust
ORDER BY "Org Code"
