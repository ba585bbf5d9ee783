-- title: Monthly activity return
-- description: One row per provider x commissioner with any referral,
--   outpatient appointment or inpatient spell in the month, even if all its
--   general and acute (G&A) counts are zero. GP referrals: source 03; other
--   referrals: every other source except consultant-initiated (01 02 10 11) and
--   self-referral (06). Outpatients: consultant-led appointments seen (status 5
--   or 6) that were first (1, 3) or follow-up (2, 4) attendances, and did not
--   attend (status 3). Elective ordinary and day case: methods 11 12 13 with
--   classification 1 and 2; non-elective: methods 21-2D, 28, 31, 32, 81-83.
-- params: period_start date, period_end date, period_label text, trust text
-- source: returns spec section 3
SELECT
    $period_label AS "Period",
    trust AS "Provider Org Code",
    commissioner_code AS "Commissioner Org Code",
    count(*) FILTER (WHERE measure = 'gp_referrals') AS "GP Referrals Made (G&A)",
    count(*) FILTER (WHERE measure = 'other_referrals') AS "Other Referrals Made (G&A)",
    count(*) FILTER (WHERE measure = 'first_attendances') AS "First Attendances (G&A)",
    count(*) FILTER (WHERE measure = 'follow_up_attendances') AS "Follow-up Attendances (G&A)",
    count(*) FILTER (WHERE measure = 'did_not_attend') AS "Did Not Attend (G&A)",
    count(*) FILTER (WHERE measure = 'elective_ordinary') AS "Elective Ordinary Admissions (G&A)",
    count(*) FILTER (WHERE measure = 'elective_day_case') AS "Elective Day Case Admissions (G&A)",
    count(*) FILTER (WHERE measure = 'non_elective') AS "Non-Elective Admissions (G&A)"
FROM activity_measures
WHERE activity_date BETWEEN $period_start AND $period_end
  AND ($trust = '' OR trust = $trust)
GROUP BY trust, commissioner_code
ORDER BY "Provider Org Code", "Commissioner Org Code"
