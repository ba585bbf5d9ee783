-- title: RTT waiting list by month-end
-- description: Per month-end census date and provider, and ICS-wide
--   (provider 'ICS'): incomplete pathways with a known clock start (Part_2),
--   those within 18 weeks (days <= 126) and the fraction within, and those over
--   52 weeks (days > 364).
-- params: month_from date, month_to date
-- rates: pct_within_18_weeks = within_18_weeks / waiting
-- source: returns spec section 1 (Part_2, headline measures)
SELECT
    COALESCE(trust, 'ICS') AS provider,
    to_char(census_date, '%Y-%m') AS month,
    count(*) AS waiting,
    count(*) FILTER (WHERE days <= 126) AS within_18_weeks,
    count(*) FILTER (WHERE days > 364) AS over_52_weeks,
    CAST(count(*) FILTER (WHERE days <= 126) AS DOUBLE) / count(*) AS pct_within_18_weeks
FROM rtt_census_periods
WHERE census_date BETWEEN $month_from AND $month_to
  AND part = 'Part_2'
GROUP BY GROUPING SETS ((trust, census_date), (census_date))
ORDER BY provider, month
