-- title: RTT transfers between ICS trusts: clocks carried, restarted, pending and unmatched
-- name: rtt-transfers
-- description: Per provider (each with a transfer out or a matched transfer
--   in, in byte order) and ICS-wide: RTT periods ended by a transfer out
--   (21) dated in the month, by their outcome at the census date (the last
--   day of the month) from the view ics_rtt_transfers: unlinkable (no valid
--   NHS number), the clock carried to a period at another trust (same
--   patient and treatment function code, the same clock start), the clock
--   restarted there 0 to 28 days after the transfer, unmatched, or pending
--   while 28 days have not passed by the census date; the five sum to the
--   transfers out. Restarted Days Total and Max are over the restarted
--   clocks of days from the transfer to the new clock start (Max empty when
--   there are none). Matched Transfers In counts the carried and restarted
--   transfers whose receiving period is at the provider.
-- params: period_start date, period_end date, period_label text, trust text
-- scope: ics
-- covers: rtt_events
-- source: linkage spec sections 0 and 2; NHS Data Dictionary, Referral To
--   Treatment Period; RTT guidance v5.0 (Feb 2025)
WITH month AS (
    SELECT * FROM ics_rtt_transfers WHERE census_date = $period_end
),
outs AS (
    SELECT
        provider_org_code AS trust,
        count(*) AS transfers_out,
        count(*) FILTER (WHERE outcome = 'unlinkable') AS unlinkable,
        count(*) FILTER (WHERE outcome = 'clock_carried') AS carried,
        count(*) FILTER (WHERE outcome = 'clock_restarted') AS restarted,
        count(*) FILTER (WHERE outcome = 'unmatched') AS unmatched,
        count(*) FILTER (WHERE outcome = 'pending') AS pending,
        COALESCE(sum(days_to_clock_start), 0) AS days_total,
        max(days_to_clock_start) AS days_max
    FROM month
    GROUP BY provider_org_code
),
ins AS (
    SELECT receiving_provider_org_code AS trust, count(*) AS transfers_in
    FROM month
    WHERE receiving_provider_org_code IS NOT NULL
    GROUP BY receiving_provider_org_code
),
per AS (
    SELECT
        COALESCE(o.trust, i.trust) AS trust,
        COALESCE(o.transfers_out, 0) AS transfers_out,
        COALESCE(o.unlinkable, 0) AS unlinkable,
        COALESCE(o.carried, 0) AS carried,
        COALESCE(o.restarted, 0) AS restarted,
        COALESCE(o.unmatched, 0) AS unmatched,
        COALESCE(o.pending, 0) AS pending,
        COALESCE(o.days_total, 0) AS days_total,
        o.days_max,
        COALESCE(i.transfers_in, 0) AS transfers_in
    FROM outs o
    FULL JOIN ins i ON i.trust = o.trust
),
levels AS (
    SELECT 0 AS ord, trust AS code, transfers_out, unlinkable, carried, restarted, unmatched,
           pending, days_total, days_max, transfers_in
    FROM per
    WHERE $trust = '' OR trust = $trust
    UNION ALL
    SELECT
        1,
        '',
        COALESCE(sum(transfers_out), 0),
        COALESCE(sum(unlinkable), 0),
        COALESCE(sum(carried), 0),
        COALESCE(sum(restarted), 0),
        COALESCE(sum(unmatched), 0),
        COALESCE(sum(pending), 0),
        COALESCE(sum(days_total), 0),
        max(days_max),
        COALESCE(sum(transfers_in), 0)
    FROM per
    WHERE $trust = '' OR trust = $trust
)
SELECT
    $period_label AS "Period",
    CASE ord WHEN 0 THEN 'provider' ELSE 'ics' END AS "Level",
    code AS "Provider Org Code",
    transfers_out AS "Transfers Out",
    unlinkable AS "Unlinkable",
    carried AS "Matched Clock Carried",
    restarted AS "Matched Clock Restarted",
    unmatched AS "Unmatched",
    pending AS "Pending",
    days_total AS "Restarted Days Total",
    days_max AS "Restarted Days Max",
    transfers_in AS "Matched Transfers In"
FROM levels
ORDER BY ord, code
