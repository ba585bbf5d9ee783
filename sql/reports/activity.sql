-- title: Activity: referrals, outpatients and admissions
-- name: activity
-- description: Per provider and ICS-wide, the general and acute measures of
--   the monthly activity return: GP and other referrals, first and follow-up
--   outpatient attendances, did not attend, elective ordinary and day case
--   admissions and non-elective admissions.
-- params: period_start date, period_end date, trust text
-- source: returns spec section 3
SELECT
    CASE WHEN grouping(trust) = 1 THEN 'ics' ELSE 'provider' END AS level,
    trust AS provider,
    count(*) FILTER (WHERE measure = 'gp_referrals') AS gp_referrals,
    count(*) FILTER (WHERE measure = 'other_referrals') AS other_referrals,
    count(*) FILTER (WHERE measure = 'first_attendances') AS first_attendances,
    count(*) FILTER (WHERE measure = 'follow_up_attendances') AS follow_up_attendances,
    count(*) FILTER (WHERE measure = 'did_not_attend') AS did_not_attend,
    count(*) FILTER (WHERE measure = 'elective_ordinary') AS elective_ordinary,
    count(*) FILTER (WHERE measure = 'elective_day_case') AS elective_day_case,
    count(*) FILTER (WHERE measure = 'non_elective') AS non_elective
FROM activity_measures
WHERE activity_date BETWEEN $period_start AND $period_end
  AND ($trust = '' OR trust = $trust)
GROUP BY GROUPING SETS ((trust), ())
ORDER BY CASE level WHEN 'ics' THEN 0 ELSE 1 END, provider
