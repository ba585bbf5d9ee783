-- title: Activity by month
-- description: Per month and provider, and ICS-wide (provider 'ICS'): the
--   general and acute measures of the monthly activity return.
-- params: month_from date, month_to date
-- source: returns spec section 3
SELECT
    COALESCE(trust, 'ICS') AS provider,
    to_char(month, '%Y-%m') AS month,
    count(*) FILTER (WHERE measure = 'gp_referrals') AS gp_referrals,
    count(*) FILTER (WHERE measure = 'first_attendances') AS first_attendances,
    count(*) FILTER (WHERE measure = 'follow_up_attendances') AS follow_up_attendances,
    count(*) FILTER (WHERE measure = 'elective_ordinary') + count(*) FILTER (WHERE measure = 'elective_day_case') AS elective_admissions,
    count(*) FILTER (WHERE measure = 'non_elective') AS non_elective_admissions
FROM (
    SELECT trust, date_trunc('month', activity_date) AS month, measure
    FROM activity_measures
    WHERE activity_date BETWEEN $month_from AND $month_to
) a
GROUP BY GROUPING SETS ((trust, month), (month))
ORDER BY provider, month
