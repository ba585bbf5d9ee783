-- title: RTT transfers out in the month by outcome at the month end
-- description: Per provider: RTT periods transferred out (21) in the month
--   shown, by their outcome at the census date (clock carried, clock
--   restarted, pending, unmatched, unlinkable). Read from ics_rtt_transfers,
--   as the rtt-transfers report.
-- params: month_to date
-- source: linkage spec section 2
SELECT
    provider_org_code AS provider,
    outcome,
    count(*) AS transfers
FROM ics_rtt_transfers
WHERE census_date = $month_to
GROUP BY provider_org_code, outcome
ORDER BY provider, outcome
