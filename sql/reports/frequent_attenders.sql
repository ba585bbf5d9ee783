-- title: A&E frequent attenders and high intensity users, ICS-wide
-- name: frequent-attenders
-- description: Linked patients' unbooked A&E attendances (a valid NHS
--   number) with London arrival dates from the 1st of the month eleven
--   months before the period to the period's end, classified ICS-wide. A
--   frequent attender has min_attendances or more (6 unless asked
--   otherwise: more than five a year); a high
--   intensity user more than 20 in the window or more than 5 in the month.
--   At more than one trust when they attended 2 or more trusts in the
--   window; below threshold at every trust when no trust's own counts reach
--   it (frequent, fewer than min_attendances at each; high intensity, at most 20 in the
--   window and at most 5 in the month at each), so visible only ICS-wide. A
--   provider row counts the patients attending there in the window and their
--   attendances there; the ics row each patient once with all their
--   attendances (with one trust asked for, the patients attending there).
-- params: period_start date, period_end date, period_label text, trust text,
--   min_attendances int
-- scope: ics
-- covers: ae_attendances, 11 months before
-- source: linkage spec sections 0 and 3; NHS England, High Intensity Use
--   programme (2024/25); British Red Cross, Nowhere else to turn (2021)
WITH att AS (
    SELECT trust, activity_date, nhs_number AS patient
    FROM ae_attendances
    WHERE NOT booked_appointment
      AND nhs_number_valid(nhs_number)
      AND activity_date BETWEEN $period_start - INTERVAL '11 months' AND $period_end
),
per_trust AS (
    SELECT
        patient,
        trust,
        count(*) AS n,
        count(*) FILTER (WHERE activity_date >= $period_start) AS n_month
    FROM att
    GROUP BY patient, trust
),
patients AS (
    SELECT
        patient,
        sum(n) AS n,
        sum(n_month) AS n_month,
        count(*) AS trusts,
        max(n) AS max_n,
        max(n_month) AS max_month
    FROM per_trust
    GROUP BY patient
),
classed AS (
    SELECT
        patient,
        n,
        trusts >= 2 AS multi,
        n >= $min_attendances AS fa,
        max_n < $min_attendances AS fa_below,
        n > 20 OR n_month > 5 AS hiu,
        max_n <= 20 AND max_month <= 5 AS hiu_below
    FROM patients
),
asked AS (
    SELECT c.*
    FROM classed c
    WHERE $trust = '' OR c.patient IN (SELECT patient FROM per_trust WHERE trust = $trust)
),
levels AS (
    SELECT
        0 AS ord,
        t.trust AS code,
        count(*) AS linked,
        count(*) FILTER (WHERE c.fa) AS fa,
        count(*) FILTER (WHERE c.fa AND c.multi) AS fa_multi,
        count(*) FILTER (WHERE c.fa AND c.fa_below) AS fa_below,
        COALESCE(sum(t.n) FILTER (WHERE c.fa), 0) AS fa_attendances,
        count(*) FILTER (WHERE c.hiu) AS hiu,
        count(*) FILTER (WHERE c.hiu AND c.multi) AS hiu_multi,
        count(*) FILTER (WHERE c.hiu AND c.hiu_below) AS hiu_below,
        COALESCE(sum(t.n) FILTER (WHERE c.hiu), 0) AS hiu_attendances
    FROM per_trust t
    JOIN classed c ON c.patient = t.patient
    WHERE $trust = '' OR t.trust = $trust
    GROUP BY t.trust
    UNION ALL
    SELECT
        1,
        '',
        count(*),
        count(*) FILTER (WHERE fa),
        count(*) FILTER (WHERE fa AND multi),
        count(*) FILTER (WHERE fa AND fa_below),
        COALESCE(sum(n) FILTER (WHERE fa), 0),
        count(*) FILTER (WHERE hiu),
        count(*) FILTER (WHERE hiu AND multi),
        count(*) FILTER (WHERE hiu AND hiu_below),
        COALESCE(sum(n) FILTER (WHERE hiu), 0)
    FROM asked
)
SELECT
    $period_label AS "Period",
    CASE ord WHEN 0 THEN 'provider' ELSE 'ics' END AS "Level",
    code AS "Provider Org Code",
    linked AS "Linked Patients",
    fa AS "Frequent Attenders",
    fa_multi AS "Frequent Attenders At More Than One Trust",
    fa_below AS "Frequent Attenders Below Threshold At Every Trust",
    fa_attendances AS "Frequent Attender Attendances",
    hiu AS "High Intensity Users",
    hiu_multi AS "High Intensity Users At More Than One Trust",
    hiu_below AS "High Intensity Users Below Threshold At Every Trust",
    hiu_attendances AS "High Intensity User Attendances"
FROM levels
ORDER BY ord, code
