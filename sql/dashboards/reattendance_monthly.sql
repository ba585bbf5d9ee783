-- title: A&E re-attendances within 7 days by month, same trust and another ICS trust
-- description: Per month and provider, and ICS-wide (provider 'ICS'):
--   unbooked attendances, the re-attendances within 7 days of one at the same
--   trust and of one only at another ICS trust (linked by a valid NHS number),
--   and each as a fraction of the attendances. Read from ics_ae_reattendance,
--   as the ae-reattendance report.
-- params: month_from date, month_to date
-- rates: rate_same_trust = same_trust / attendances, rate_other_trust = other_trust / attendances
-- source: linkage spec section 1
SELECT
    COALESCE(provider_org_code, 'ICS') AS provider,
    period AS month,
    count(*) AS attendances,
    count(*) FILTER (WHERE reattendance = 'same_trust') AS same_trust,
    count(*) FILTER (WHERE reattendance = 'other_trust') AS other_trust,
    CAST(count(*) FILTER (WHERE reattendance = 'same_trust') AS DOUBLE) / count(*)
        AS rate_same_trust,
    CAST(count(*) FILTER (WHERE reattendance = 'other_trust') AS DOUBLE) / count(*)
        AS rate_other_trust
FROM ics_ae_reattendance
WHERE period BETWEEN to_char($month_from, '%Y-%m') AND to_char($month_to, '%Y-%m')
GROUP BY GROUPING SETS ((provider_org_code, period), (period))
ORDER BY provider, month
