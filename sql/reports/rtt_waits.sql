-- title: RTT waiting times: headline measures
-- name: rtt-waits
-- description: For parts 1A, 1B and 2, per provider x commissioner x treatment
--   function row, per provider, and ICS-wide: N (periods with a known clock
--   start), % within 18 weeks (the first 18 bands over N), the median, 92nd and
--   95th percentile weeks waited by NHS England's published method (empty when
--   N < 50), and the periods over 52, 65, 78 and 104 weeks (days over 364, 455,
--   546 and 728).
-- params: census_date date, trust text
-- rates: pct_within_18_weeks
-- source: returns spec section 1 (headline measures); the percentile method
--   reproduces NHS England's published RTT medians (reference/SOURCES.md)
WITH p AS (
    SELECT *
    FROM rtt_census_periods
    WHERE census_date = $census_date
      AND part IN ('Part_1A', 'Part_1B', 'Part_2')
      AND start_known
      AND ($trust = '' OR trust = $trust)
),
bands AS (
    SELECT
        CASE
            WHEN grouping(trust) = 1 THEN 'ics'
            WHEN grouping(commissioner_code) = 1 THEN 'provider'
            ELSE 'provider_commissioner_function'
        END AS level,
        part,
        trust,
        commissioner_code,
        tf_row,
        band,
        count(*) AS f,
        count(*) FILTER (WHERE days > 364) AS over_52,
        count(*) FILTER (WHERE days > 455) AS over_65,
        count(*) FILTER (WHERE days > 546) AS over_78,
        count(*) FILTER (WHERE days > 728) AS over_104
    FROM p
    GROUP BY GROUPING SETS (
        (part, trust, commissioner_code, tf_row, band),
        (part, trust, band),
        (part, band)
    )
),
cum AS (
    SELECT
        *,
        -- band i (lower edge i weeks) is band number - 1
        CAST(band - 1 AS DOUBLE) AS lower_weeks,
        sum(f) OVER (
            PARTITION BY level, part, trust, commissioner_code, tf_row
            ORDER BY band ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS reached,
        sum(f) OVER (PARTITION BY level, part, trust, commissioner_code, tf_row) AS n
    FROM bands
),
targets AS (
    SELECT
        *,
        reached - f AS before,
        (n + 1) / 2.0 AS t_median,
        0.92 * n AS t_92,
        0.95 * n AS t_95
    FROM cum
)
SELECT
    level,
    part,
    trust AS provider,
    commissioner_code AS commissioner,
    tf_row AS treatment_function,
    max(n) AS n,
    round(100.0 * COALESCE(sum(f) FILTER (WHERE band <= 18), 0) / max(n), 2) AS pct_within_18_weeks,
    CASE WHEN max(n) >= 50 THEN round(max(CASE WHEN before < t_median AND reached >= t_median
        THEN lower_weeks + (t_median - before) / f END), 4) END AS median_weeks,
    CASE WHEN max(n) >= 50 THEN round(max(CASE WHEN before < t_92 AND reached >= t_92
        THEN lower_weeks + (t_92 - before) / f END), 4) END AS p92_weeks,
    CASE WHEN max(n) >= 50 THEN round(max(CASE WHEN before < t_95 AND reached >= t_95
        THEN lower_weeks + (t_95 - before) / f END), 4) END AS p95_weeks,
    sum(over_52) AS over_52_weeks,
    sum(over_65) AS over_65_weeks,
    sum(over_78) AS over_78_weeks,
    sum(over_104) AS over_104_weeks
FROM targets
GROUP BY level, part, trust, commissioner_code, tf_row
ORDER BY
    CASE level WHEN 'ics' THEN 0 WHEN 'provider' THEN 1 ELSE 2 END,
    part, provider, commissioner, CASE WHEN treatment_function = 'C_999' THEN 1 ELSE 0 END, treatment_function
