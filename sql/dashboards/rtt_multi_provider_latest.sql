-- title: Open RTT pathways whose patient is also waiting at another ICS trust, at the month end
-- description: Per provider and RTT treatment function row, at the census
--   date at the end of the month shown: open pathways (Part_2) whose linked
--   patient is also open at another ICS trust, with the same treatment
--   function code or only other codes (kind). Read from
--   ics_rtt_multi_provider, as the rtt-multi-provider report.
-- params: month_to date
-- source: linkage spec section 2
SELECT
    provider_org_code AS provider,
    tf_row AS treatment_function,
    CASE WHEN also_open_same_tf THEN 'same treatment function' ELSE 'other treatment function only' END
        AS kind,
    count(*) AS pathways
FROM ics_rtt_multi_provider
WHERE census_date = $month_to
  AND (also_open_same_tf OR also_open_other_tf_only)
GROUP BY provider_org_code, tf_row, also_open_same_tf
ORDER BY provider, treatment_function, kind
