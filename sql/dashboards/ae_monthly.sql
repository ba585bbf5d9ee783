-- title: A&E attendances and 4-hour performance by month
-- description: Per month and provider, and ICS-wide (provider 'ICS'): all
--   attendances (booked included), those within 4 hours and over 12 hours from
--   arrival, and the 4-hour performance as a fraction.
-- params: month_from date, month_to date
-- rates: pct_within_4_hours = within_4_hours / attendances
-- source: returns spec section 2 (headline: 4-hour performance, 12 hours from
--   arrival)
SELECT
    COALESCE(trust, 'ICS') AS provider,
    to_char(month, '%Y-%m') AS month,
    count(*) AS attendances,
    count(*) FILTER (WHERE NOT over_4h) AS within_4_hours,
    count(*) FILTER (WHERE over_12h) AS over_12_hours,
    CAST(count(*) FILTER (WHERE NOT over_4h) AS DOUBLE) / count(*) AS pct_within_4_hours
FROM (
    SELECT trust, date_trunc('month', activity_date) AS month, over_4h, over_12h
    FROM ae_attendance_measures
    WHERE activity_date BETWEEN $month_from AND $month_to
) a
GROUP BY GROUPING SETS ((trust, month), (month))
ORDER BY provider, month
