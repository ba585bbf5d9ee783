-- title: Unbooked A&E attendances with their 7-day re-attendance, ICS-wide
-- description: One row per unbooked A&E attendance of every trust. A
--   re-attendance when the same linked patient (a valid NHS number) had an
--   earlier unbooked attendance at any ICS trust more than 240 and at most
--   10,080 whole minutes before, arrival to arrival; same_trust when one
--   was at this attendance's trust, else other_trust, else null. The index
--   is the latest qualifying earlier attendance, one at the same trust
--   first; minutes_since_index its whole minutes. patient_key and
--   attendance_key are the keyed pseudonyms an analyst's session shows for
--   the NHS number and the attendance id (patient_key null when the number
--   is missing or invalid): no NHS number or record id is shown.
-- source: linkage spec sections 0 and 1
WITH unbooked AS (
    SELECT
        trust,
        attendance_id,
        arrival_time,
        activity_date,
        icsw_patient_key(nhs_number) AS patient_key
    FROM ae_attendances
    WHERE NOT booked_appointment
),
qualifying AS (
    SELECT
        l.trust,
        l.attendance_id,
        e.trust AS index_trust,
        whole_minutes(e.arrival_time, l.arrival_time) AS minutes
    FROM unbooked l
    JOIN unbooked e ON e.patient_key = l.patient_key
    WHERE e.activity_date BETWEEN l.activity_date - INTERVAL '8 days' AND l.activity_date
      AND whole_minutes(e.arrival_time, l.arrival_time) > 240
      AND whole_minutes(e.arrival_time, l.arrival_time) <= 10080
),
indexed AS (
    SELECT
        *,
        row_number() OVER (
            PARTITION BY trust, attendance_id
            ORDER BY CASE WHEN index_trust = trust THEN 0 ELSE 1 END, minutes, index_trust
        ) AS rank
    FROM qualifying
)
SELECT
    u.trust AS provider_org_code,
    icsw_record_key(u.attendance_id) AS attendance_key,
    u.patient_key,
    u.arrival_time,
    to_char(u.activity_date, '%Y-%m') AS period,
    CASE
        WHEN i.index_trust IS NULL THEN CAST(NULL AS VARCHAR)
        WHEN i.index_trust = u.trust THEN 'same_trust'
        ELSE 'other_trust'
    END AS reattendance,
    i.index_trust AS index_provider_org_code,
    i.minutes AS minutes_since_index
FROM unbooked u
LEFT JOIN indexed i
    ON i.trust = u.trust AND i.attendance_id = u.attendance_id AND i.rank = 1
