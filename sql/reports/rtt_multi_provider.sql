-- title: Open RTT pathways of patients also waiting at another ICS trust
-- name: rtt-multi-provider
-- description: Per provider and treatment function row of the RTT return
--   (each with an open pathway at the census date, the last day of the
--   month; C_999 the provider's total, last), then ICS-wide the same rows:
--   open pathways (Part_2: open with a known clock start), those whose
--   patient has a valid NHS number (linkable), and those whose patient is
--   also open at another ICS trust with the same treatment function code,
--   or only with other codes. The same trust's other pathways do not
--   count. Counts are pathways: a patient open at two trusts counts twice
--   ICS-wide. Counted from the view ics_rtt_multi_provider.
-- params: period_start date, period_end date, period_label text, trust text
-- scope: ics
-- covers: rtt_events
-- source: linkage spec sections 0 and 2; returns spec section 1 (Part_2,
--   treatment function rows)
WITH per AS (
    SELECT
        provider_org_code AS trust,
        tf_row,
        count(*) AS open_pathways,
        count(patient_key) AS linkable,
        count(*) FILTER (WHERE also_open_same_tf) AS same_tf,
        count(*) FILTER (WHERE also_open_other_tf_only) AS other_tf_only
    FROM ics_rtt_multi_provider
    WHERE census_date = $period_end
      AND ($trust = '' OR provider_org_code = $trust)
    GROUP BY provider_org_code, tf_row
),
rows_ AS (
    SELECT 0 AS ord, trust AS code, tf_row, open_pathways, linkable, same_tf, other_tf_only
    FROM per
    UNION ALL
    SELECT 0, trust, 'C_999', sum(open_pathways), sum(linkable), sum(same_tf), sum(other_tf_only)
    FROM per
    GROUP BY trust
    UNION ALL
    SELECT 1, '', tf_row, sum(open_pathways), sum(linkable), sum(same_tf), sum(other_tf_only)
    FROM per
    GROUP BY tf_row
    UNION ALL
    SELECT
        1,
        '',
        'C_999',
        COALESCE(sum(open_pathways), 0),
        COALESCE(sum(linkable), 0),
        COALESCE(sum(same_tf), 0),
        COALESCE(sum(other_tf_only), 0)
    FROM per
)
SELECT
    $period_label AS "Period",
    CASE ord WHEN 0 THEN 'provider' ELSE 'ics' END AS "Level",
    code AS "Provider Org Code",
    tf_row AS "Treatment Function Code",
    open_pathways AS "Open Pathways",
    linkable AS "Open Pathways Linkable",
    same_tf AS "Also Open Elsewhere Same TF",
    other_tf_only AS "Also Open Elsewhere Other TF Only"
FROM rows_
ORDER BY ord, code, CASE WHEN tf_row = 'C_999' THEN 1 ELSE 0 END, tf_row
