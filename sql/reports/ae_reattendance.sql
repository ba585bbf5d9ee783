-- title: A&E re-attendances within 7 days, at the same trust and at another ICS trust
-- name: ae-reattendance
-- description: Per provider (each with an attendance in the month, in byte
--   order) and ICS-wide: unbooked A&E attendances arriving in the month
--   (London date), those with a valid NHS number (linkable), and the
--   re-attendances among them, each an attendance of a linked patient with an
--   earlier unbooked attendance of the same patient at any ICS trust more than
--   240 and at most 10,080 whole minutes before (arrival to arrival; the
--   earlier one may be in the previous month). Same trust when one such
--   earlier attendance was at this attendance's trust, other trust when they
--   were all at other trusts. The rate
--   is re-attendances over attendances as a 4-decimal fraction, rounded half
--   up from the exact quotient. Records link only by a valid NHS number.
--   Counted from the view ics_ae_reattendance.
-- params: period_start date, period_end date, period_label text, trust text
-- scope: ics
-- covers: ae_attendances, 7 days before
-- rates: Reattendance Rate = Reattendances / Attendances
-- source: linkage spec sections 0 and 1; DH, A&E Clinical Quality Indicators
--   Implementation Guidance (2010); NHS Digital, Hospital A&E Activity
--   2021-22, re-attendances within 7 days
WITH per AS (
    SELECT
        provider_org_code AS trust,
        count(*) AS attendances,
        count(patient_key) AS linkable,
        count(reattendance) AS reattendances,
        count(*) FILTER (WHERE reattendance = 'same_trust') AS same_trust,
        count(*) FILTER (WHERE reattendance = 'other_trust') AS other_trust
    FROM ics_ae_reattendance
    WHERE period = $period_label
      AND ($trust = '' OR provider_org_code = $trust)
    GROUP BY provider_org_code
),
levels AS (
    SELECT 0 AS ord, trust AS code, attendances, linkable, reattendances, same_trust, other_trust
    FROM per
    UNION ALL
    SELECT
        1,
        '',
        COALESCE(sum(attendances), 0),
        COALESCE(sum(linkable), 0),
        COALESCE(sum(reattendances), 0),
        COALESCE(sum(same_trust), 0),
        COALESCE(sum(other_trust), 0)
    FROM per
),
rated AS (
    SELECT
        *,
        -- round half up of 10,000 x the quotient, in integers
        CASE WHEN attendances > 0
            THEN (20000 * reattendances + attendances) / (2 * attendances)
        END AS rate_e4
    FROM levels
)
SELECT
    $period_label AS "Period",
    CASE ord WHEN 0 THEN 'provider' ELSE 'ics' END AS "Level",
    code AS "Provider Org Code",
    attendances AS "Attendances",
    linkable AS "Attendances Linkable",
    reattendances AS "Reattendances",
    same_trust AS "Reattendances Same Trust",
    other_trust AS "Reattendances Other Trust",
    CAST(rate_e4 / 10000 AS VARCHAR) || '.' || lpad(CAST(rate_e4 % 10000 AS VARCHAR), 4, '0')
        AS "Reattendance Rate"
FROM rated
ORDER BY ord, code
