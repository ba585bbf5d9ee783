-- title: Checks NHS England runs on a monthly RTT return
-- description: Over the RTT return for the month (rtt_return_now) and the one
--   before (rtt_return_prev), per provider: Part_2A greater than Part_2 for a
--   commissioner and treatment function row (error); a C_999 total not equal
--   to the sum of its rows (error); a part that is zero this month but was not
--   last month; a return identical to last month's (every row but the
--   period); a part's total moving by more than swing_fraction (and at least
--   swing_min periods); a share of Part_2 waits of 0-1 weeks above
--   short_wait_share; 52+ week waiters up by more than jump_fraction (and at
--   least jump_min).
-- params: census_date date, swing_fraction double, swing_min bigint, short_wait_share double, jump_fraction double, jump_min bigint
-- source: data-quality issue (return checks); returns spec section 1
WITH totals_now AS (
    SELECT "Provider Org Code" AS trust, "RTT Part Type" AS part, sum("Total All") AS n
    FROM rtt_return_now WHERE "Treatment Function Code" = 'C_999'
    GROUP BY 1, 2
),
totals_prev AS (
    SELECT "Provider Org Code" AS trust, "RTT Part Type" AS part, sum("Total All") AS n
    FROM rtt_return_prev WHERE "Treatment Function Code" = 'C_999'
    GROUP BY 1, 2
),
providers AS (
    SELECT DISTINCT "Provider Org Code" AS trust FROM rtt_return_now
    UNION
    SELECT DISTINCT "Provider Org Code" FROM rtt_return_prev
),
part_2a AS (
    SELECT
        'returns.rtt_part_2a_exceeds_part_2' AS check_id,
        a."Provider Org Code" AS trust,
        count(*) AS count,
        CAST(NULL AS BIGINT) AS denominator,
        string_agg(a."Commissioner Org Code" || '/' || a."Treatment Function Code", ',') AS keys
    FROM rtt_return_now a
    LEFT JOIN rtt_return_now b
        ON b."Provider Org Code" = a."Provider Org Code"
        AND b."Commissioner Org Code" = a."Commissioner Org Code"
        AND b."Treatment Function Code" = a."Treatment Function Code"
        AND b."RTT Part Type" = 'Part_2'
    WHERE a."RTT Part Type" = 'Part_2A' AND a."Total All" > COALESCE(b."Total All", 0)
    GROUP BY a."Provider Org Code"
),
row_sums AS (
    SELECT "Provider Org Code" AS trust, "Commissioner Org Code" AS comm, "RTT Part Type" AS part,
           sum("Total All") AS s
    FROM rtt_return_now WHERE "Treatment Function Code" <> 'C_999'
    GROUP BY 1, 2, 3
),
c999 AS (
    SELECT "Provider Org Code" AS trust, "Commissioner Org Code" AS comm, "RTT Part Type" AS part,
           "Total All" AS t
    FROM rtt_return_now WHERE "Treatment Function Code" = 'C_999'
),
total_mismatch AS (
    SELECT
        'returns.rtt_total_mismatch' AS check_id,
        COALESCE(r.trust, c.trust) AS trust,
        count(*) AS count,
        CAST(NULL AS BIGINT) AS denominator,
        string_agg(COALESCE(r.comm, c.comm) || '/' || COALESCE(r.part, c.part), ',') AS keys
    FROM row_sums r
    FULL OUTER JOIN c999 c ON c.trust = r.trust AND c.comm = r.comm AND c.part = r.part
    WHERE r.s IS NULL OR c.t IS NULL OR r.s <> c.t
    GROUP BY COALESCE(r.trust, c.trust)
),
parts AS (
    SELECT p.trust, x.part, COALESCE(n.n, 0) AS now_n, COALESCE(v.n, 0) AS prev_n
    FROM providers p
    CROSS JOIN (VALUES ('Part_1A'), ('Part_1B'), ('Part_2'), ('Part_2A'), ('Part_3')) AS x(part)
    LEFT JOIN totals_now n ON n.trust = p.trust AND n.part = x.part
    LEFT JOIN totals_prev v ON v.trust = p.trust AND v.part = x.part
),
zero AS (
    SELECT 'returns.rtt_part_zero' AS check_id, trust, count(*) AS count,
           CAST(NULL AS BIGINT) AS denominator, string_agg(part, ',' ORDER BY part) AS keys
    FROM parts WHERE now_n = 0 AND prev_n > 0
    GROUP BY trust
),
swing AS (
    SELECT 'returns.rtt_large_swing' AS check_id, trust, count(*) AS count,
           CAST(NULL AS BIGINT) AS denominator,
           string_agg(part || ' ' || CAST(prev_n AS VARCHAR) || ' -> ' || CAST(now_n AS VARCHAR), ',' ORDER BY part) AS keys
    FROM parts
    WHERE prev_n > 0 AND now_n > 0
      AND abs(now_n - prev_n) > $swing_fraction * prev_n
      AND abs(now_n - prev_n) >= $swing_min
    GROUP BY trust
),
now_rows AS (
    SELECT "Provider Org Code", "Provider Org Name", "Commissioner Org Code", "RTT Part Type", "Treatment Function Code", "Treatment Function Name", "Gt 00 To 01 Weeks SUM 1", "Gt 01 To 02 Weeks SUM 1", "Gt 02 To 03 Weeks SUM 1", "Gt 03 To 04 Weeks SUM 1", "Gt 04 To 05 Weeks SUM 1", "Gt 05 To 06 Weeks SUM 1", "Gt 06 To 07 Weeks SUM 1", "Gt 07 To 08 Weeks SUM 1", "Gt 08 To 09 Weeks SUM 1", "Gt 09 To 10 Weeks SUM 1", "Gt 10 To 11 Weeks SUM 1", "Gt 11 To 12 Weeks SUM 1", "Gt 12 To 13 Weeks SUM 1", "Gt 13 To 14 Weeks SUM 1", "Gt 14 To 15 Weeks SUM 1", "Gt 15 To 16 Weeks SUM 1", "Gt 16 To 17 Weeks SUM 1", "Gt 17 To 18 Weeks SUM 1", "Gt 18 To 19 Weeks SUM 1", "Gt 19 To 20 Weeks SUM 1", "Gt 20 To 21 Weeks SUM 1", "Gt 21 To 22 Weeks SUM 1", "Gt 22 To 23 Weeks SUM 1", "Gt 23 To 24 Weeks SUM 1", "Gt 24 To 25 Weeks SUM 1", "Gt 25 To 26 Weeks SUM 1", "Gt 26 To 27 Weeks SUM 1", "Gt 27 To 28 Weeks SUM 1", "Gt 28 To 29 Weeks SUM 1", "Gt 29 To 30 Weeks SUM 1", "Gt 30 To 31 Weeks SUM 1", "Gt 31 To 32 Weeks SUM 1", "Gt 32 To 33 Weeks SUM 1", "Gt 33 To 34 Weeks SUM 1", "Gt 34 To 35 Weeks SUM 1", "Gt 35 To 36 Weeks SUM 1", "Gt 36 To 37 Weeks SUM 1", "Gt 37 To 38 Weeks SUM 1", "Gt 38 To 39 Weeks SUM 1", "Gt 39 To 40 Weeks SUM 1", "Gt 40 To 41 Weeks SUM 1", "Gt 41 To 42 Weeks SUM 1", "Gt 42 To 43 Weeks SUM 1", "Gt 43 To 44 Weeks SUM 1", "Gt 44 To 45 Weeks SUM 1", "Gt 45 To 46 Weeks SUM 1", "Gt 46 To 47 Weeks SUM 1", "Gt 47 To 48 Weeks SUM 1", "Gt 48 To 49 Weeks SUM 1", "Gt 49 To 50 Weeks SUM 1", "Gt 50 To 51 Weeks SUM 1", "Gt 51 To 52 Weeks SUM 1", "Gt 52 To 53 Weeks SUM 1", "Gt 53 To 54 Weeks SUM 1", "Gt 54 To 55 Weeks SUM 1", "Gt 55 To 56 Weeks SUM 1", "Gt 56 To 57 Weeks SUM 1", "Gt 57 To 58 Weeks SUM 1", "Gt 58 To 59 Weeks SUM 1", "Gt 59 To 60 Weeks SUM 1", "Gt 60 To 61 Weeks SUM 1", "Gt 61 To 62 Weeks SUM 1", "Gt 62 To 63 Weeks SUM 1", "Gt 63 To 64 Weeks SUM 1", "Gt 64 To 65 Weeks SUM 1", "Gt 65 To 66 Weeks SUM 1", "Gt 66 To 67 Weeks SUM 1", "Gt 67 To 68 Weeks SUM 1", "Gt 68 To 69 Weeks SUM 1", "Gt 69 To 70 Weeks SUM 1", "Gt 70 To 71 Weeks SUM 1", "Gt 71 To 72 Weeks SUM 1", "Gt 72 To 73 Weeks SUM 1", "Gt 73 To 74 Weeks SUM 1", "Gt 74 To 75 Weeks SUM 1", "Gt 75 To 76 Weeks SUM 1", "Gt 76 To 77 Weeks SUM 1", "Gt 77 To 78 Weeks SUM 1", "Gt 78 To 79 Weeks SUM 1", "Gt 79 To 80 Weeks SUM 1", "Gt 80 To 81 Weeks SUM 1", "Gt 81 To 82 Weeks SUM 1", "Gt 82 To 83 Weeks SUM 1", "Gt 83 To 84 Weeks SUM 1", "Gt 84 To 85 Weeks SUM 1", "Gt 85 To 86 Weeks SUM 1", "Gt 86 To 87 Weeks SUM 1", "Gt 87 To 88 Weeks SUM 1", "Gt 88 To 89 Weeks SUM 1", "Gt 89 To 90 Weeks SUM 1", "Gt 90 To 91 Weeks SUM 1", "Gt 91 To 92 Weeks SUM 1", "Gt 92 To 93 Weeks SUM 1", "Gt 93 To 94 Weeks SUM 1", "Gt 94 To 95 Weeks SUM 1", "Gt 95 To 96 Weeks SUM 1", "Gt 96 To 97 Weeks SUM 1", "Gt 97 To 98 Weeks SUM 1", "Gt 98 To 99 Weeks SUM 1", "Gt 99 To 100 Weeks SUM 1", "Gt 100 To 101 Weeks SUM 1", "Gt 101 To 102 Weeks SUM 1", "Gt 102 To 103 Weeks SUM 1", "Gt 103 To 104 Weeks SUM 1", "Gt 104 Weeks SUM 1", "Total", "Patients with unknown clock start date", "Total All" FROM rtt_return_now
),
prev_rows AS (
    SELECT "Provider Org Code", "Provider Org Name", "Commissioner Org Code", "RTT Part Type", "Treatment Function Code", "Treatment Function Name", "Gt 00 To 01 Weeks SUM 1", "Gt 01 To 02 Weeks SUM 1", "Gt 02 To 03 Weeks SUM 1", "Gt 03 To 04 Weeks SUM 1", "Gt 04 To 05 Weeks SUM 1", "Gt 05 To 06 Weeks SUM 1", "Gt 06 To 07 Weeks SUM 1", "Gt 07 To 08 Weeks SUM 1", "Gt 08 To 09 Weeks SUM 1", "Gt 09 To 10 Weeks SUM 1", "Gt 10 To 11 Weeks SUM 1", "Gt 11 To 12 Weeks SUM 1", "Gt 12 To 13 Weeks SUM 1", "Gt 13 To 14 Weeks SUM 1", "Gt 14 To 15 Weeks SUM 1", "Gt 15 To 16 Weeks SUM 1", "Gt 16 To 17 Weeks SUM 1", "Gt 17 To 18 Weeks SUM 1", "Gt 18 To 19 Weeks SUM 1", "Gt 19 To 20 Weeks SUM 1", "Gt 20 To 21 Weeks SUM 1", "Gt 21 To 22 Weeks SUM 1", "Gt 22 To 23 Weeks SUM 1", "Gt 23 To 24 Weeks SUM 1", "Gt 24 To 25 Weeks SUM 1", "Gt 25 To 26 Weeks SUM 1", "Gt 26 To 27 Weeks SUM 1", "Gt 27 To 28 Weeks SUM 1", "Gt 28 To 29 Weeks SUM 1", "Gt 29 To 30 Weeks SUM 1", "Gt 30 To 31 Weeks SUM 1", "Gt 31 To 32 Weeks SUM 1", "Gt 32 To 33 Weeks SUM 1", "Gt 33 To 34 Weeks SUM 1", "Gt 34 To 35 Weeks SUM 1", "Gt 35 To 36 Weeks SUM 1", "Gt 36 To 37 Weeks SUM 1", "Gt 37 To 38 Weeks SUM 1", "Gt 38 To 39 Weeks SUM 1", "Gt 39 To 40 Weeks SUM 1", "Gt 40 To 41 Weeks SUM 1", "Gt 41 To 42 Weeks SUM 1", "Gt 42 To 43 Weeks SUM 1", "Gt 43 To 44 Weeks SUM 1", "Gt 44 To 45 Weeks SUM 1", "Gt 45 To 46 Weeks SUM 1", "Gt 46 To 47 Weeks SUM 1", "Gt 47 To 48 Weeks SUM 1", "Gt 48 To 49 Weeks SUM 1", "Gt 49 To 50 Weeks SUM 1", "Gt 50 To 51 Weeks SUM 1", "Gt 51 To 52 Weeks SUM 1", "Gt 52 To 53 Weeks SUM 1", "Gt 53 To 54 Weeks SUM 1", "Gt 54 To 55 Weeks SUM 1", "Gt 55 To 56 Weeks SUM 1", "Gt 56 To 57 Weeks SUM 1", "Gt 57 To 58 Weeks SUM 1", "Gt 58 To 59 Weeks SUM 1", "Gt 59 To 60 Weeks SUM 1", "Gt 60 To 61 Weeks SUM 1", "Gt 61 To 62 Weeks SUM 1", "Gt 62 To 63 Weeks SUM 1", "Gt 63 To 64 Weeks SUM 1", "Gt 64 To 65 Weeks SUM 1", "Gt 65 To 66 Weeks SUM 1", "Gt 66 To 67 Weeks SUM 1", "Gt 67 To 68 Weeks SUM 1", "Gt 68 To 69 Weeks SUM 1", "Gt 69 To 70 Weeks SUM 1", "Gt 70 To 71 Weeks SUM 1", "Gt 71 To 72 Weeks SUM 1", "Gt 72 To 73 Weeks SUM 1", "Gt 73 To 74 Weeks SUM 1", "Gt 74 To 75 Weeks SUM 1", "Gt 75 To 76 Weeks SUM 1", "Gt 76 To 77 Weeks SUM 1", "Gt 77 To 78 Weeks SUM 1", "Gt 78 To 79 Weeks SUM 1", "Gt 79 To 80 Weeks SUM 1", "Gt 80 To 81 Weeks SUM 1", "Gt 81 To 82 Weeks SUM 1", "Gt 82 To 83 Weeks SUM 1", "Gt 83 To 84 Weeks SUM 1", "Gt 84 To 85 Weeks SUM 1", "Gt 85 To 86 Weeks SUM 1", "Gt 86 To 87 Weeks SUM 1", "Gt 87 To 88 Weeks SUM 1", "Gt 88 To 89 Weeks SUM 1", "Gt 89 To 90 Weeks SUM 1", "Gt 90 To 91 Weeks SUM 1", "Gt 91 To 92 Weeks SUM 1", "Gt 92 To 93 Weeks SUM 1", "Gt 93 To 94 Weeks SUM 1", "Gt 94 To 95 Weeks SUM 1", "Gt 95 To 96 Weeks SUM 1", "Gt 96 To 97 Weeks SUM 1", "Gt 97 To 98 Weeks SUM 1", "Gt 98 To 99 Weeks SUM 1", "Gt 99 To 100 Weeks SUM 1", "Gt 100 To 101 Weeks SUM 1", "Gt 101 To 102 Weeks SUM 1", "Gt 102 To 103 Weeks SUM 1", "Gt 103 To 104 Weeks SUM 1", "Gt 104 Weeks SUM 1", "Total", "Patients with unknown clock start date", "Total All" FROM rtt_return_prev
),
same AS (
    SELECT * FROM now_rows INTERSECT SELECT * FROM prev_rows
),
identical AS (
    SELECT 'returns.rtt_identical_to_last_month' AS check_id, n.trust, n.rows AS count,
           CAST(NULL AS BIGINT) AS denominator, CAST(NULL AS VARCHAR) AS keys
    FROM (SELECT "Provider Org Code" AS trust, count(*) AS rows FROM now_rows GROUP BY 1) n
    JOIN (SELECT "Provider Org Code" AS trust, count(*) AS rows FROM prev_rows GROUP BY 1) p ON p.trust = n.trust
    JOIN (SELECT "Provider Org Code" AS trust, count(*) AS rows FROM same GROUP BY 1) s ON s.trust = n.trust
    WHERE n.rows = p.rows AND n.rows = s.rows
),
short_waits AS (
    SELECT 'returns.rtt_high_share_short_waits' AS check_id, "Provider Org Code" AS trust,
           sum("Gt 00 To 01 Weeks SUM 1") AS count, sum("Total All") AS denominator,
           CAST(NULL AS VARCHAR) AS keys
    FROM rtt_return_now
    WHERE "RTT Part Type" = 'Part_2' AND "Treatment Function Code" = 'C_999'
    GROUP BY "Provider Org Code"
    HAVING sum("Total All") > 0
       AND sum("Gt 00 To 01 Weeks SUM 1") > $short_wait_share * sum("Total All")
),
over_52_now AS (
    SELECT "Provider Org Code" AS trust, sum("Gt 52 To 53 Weeks SUM 1" + "Gt 53 To 54 Weeks SUM 1" + "Gt 54 To 55 Weeks SUM 1" + "Gt 55 To 56 Weeks SUM 1" + "Gt 56 To 57 Weeks SUM 1" + "Gt 57 To 58 Weeks SUM 1" + "Gt 58 To 59 Weeks SUM 1" + "Gt 59 To 60 Weeks SUM 1" + "Gt 60 To 61 Weeks SUM 1" + "Gt 61 To 62 Weeks SUM 1" + "Gt 62 To 63 Weeks SUM 1" + "Gt 63 To 64 Weeks SUM 1" + "Gt 64 To 65 Weeks SUM 1" + "Gt 65 To 66 Weeks SUM 1" + "Gt 66 To 67 Weeks SUM 1" + "Gt 67 To 68 Weeks SUM 1" + "Gt 68 To 69 Weeks SUM 1" + "Gt 69 To 70 Weeks SUM 1" + "Gt 70 To 71 Weeks SUM 1" + "Gt 71 To 72 Weeks SUM 1" + "Gt 72 To 73 Weeks SUM 1" + "Gt 73 To 74 Weeks SUM 1" + "Gt 74 To 75 Weeks SUM 1" + "Gt 75 To 76 Weeks SUM 1" + "Gt 76 To 77 Weeks SUM 1" + "Gt 77 To 78 Weeks SUM 1" + "Gt 78 To 79 Weeks SUM 1" + "Gt 79 To 80 Weeks SUM 1" + "Gt 80 To 81 Weeks SUM 1" + "Gt 81 To 82 Weeks SUM 1" + "Gt 82 To 83 Weeks SUM 1" + "Gt 83 To 84 Weeks SUM 1" + "Gt 84 To 85 Weeks SUM 1" + "Gt 85 To 86 Weeks SUM 1" + "Gt 86 To 87 Weeks SUM 1" + "Gt 87 To 88 Weeks SUM 1" + "Gt 88 To 89 Weeks SUM 1" + "Gt 89 To 90 Weeks SUM 1" + "Gt 90 To 91 Weeks SUM 1" + "Gt 91 To 92 Weeks SUM 1" + "Gt 92 To 93 Weeks SUM 1" + "Gt 93 To 94 Weeks SUM 1" + "Gt 94 To 95 Weeks SUM 1" + "Gt 95 To 96 Weeks SUM 1" + "Gt 96 To 97 Weeks SUM 1" + "Gt 97 To 98 Weeks SUM 1" + "Gt 98 To 99 Weeks SUM 1" + "Gt 99 To 100 Weeks SUM 1" + "Gt 100 To 101 Weeks SUM 1" + "Gt 101 To 102 Weeks SUM 1" + "Gt 102 To 103 Weeks SUM 1" + "Gt 103 To 104 Weeks SUM 1" + "Gt 104 Weeks SUM 1") AS n
    FROM rtt_return_now WHERE "RTT Part Type" = 'Part_2' AND "Treatment Function Code" = 'C_999'
    GROUP BY 1
),
over_52_prev AS (
    SELECT "Provider Org Code" AS trust, sum("Gt 52 To 53 Weeks SUM 1" + "Gt 53 To 54 Weeks SUM 1" + "Gt 54 To 55 Weeks SUM 1" + "Gt 55 To 56 Weeks SUM 1" + "Gt 56 To 57 Weeks SUM 1" + "Gt 57 To 58 Weeks SUM 1" + "Gt 58 To 59 Weeks SUM 1" + "Gt 59 To 60 Weeks SUM 1" + "Gt 60 To 61 Weeks SUM 1" + "Gt 61 To 62 Weeks SUM 1" + "Gt 62 To 63 Weeks SUM 1" + "Gt 63 To 64 Weeks SUM 1" + "Gt 64 To 65 Weeks SUM 1" + "Gt 65 To 66 Weeks SUM 1" + "Gt 66 To 67 Weeks SUM 1" + "Gt 67 To 68 Weeks SUM 1" + "Gt 68 To 69 Weeks SUM 1" + "Gt 69 To 70 Weeks SUM 1" + "Gt 70 To 71 Weeks SUM 1" + "Gt 71 To 72 Weeks SUM 1" + "Gt 72 To 73 Weeks SUM 1" + "Gt 73 To 74 Weeks SUM 1" + "Gt 74 To 75 Weeks SUM 1" + "Gt 75 To 76 Weeks SUM 1" + "Gt 76 To 77 Weeks SUM 1" + "Gt 77 To 78 Weeks SUM 1" + "Gt 78 To 79 Weeks SUM 1" + "Gt 79 To 80 Weeks SUM 1" + "Gt 80 To 81 Weeks SUM 1" + "Gt 81 To 82 Weeks SUM 1" + "Gt 82 To 83 Weeks SUM 1" + "Gt 83 To 84 Weeks SUM 1" + "Gt 84 To 85 Weeks SUM 1" + "Gt 85 To 86 Weeks SUM 1" + "Gt 86 To 87 Weeks SUM 1" + "Gt 87 To 88 Weeks SUM 1" + "Gt 88 To 89 Weeks SUM 1" + "Gt 89 To 90 Weeks SUM 1" + "Gt 90 To 91 Weeks SUM 1" + "Gt 91 To 92 Weeks SUM 1" + "Gt 92 To 93 Weeks SUM 1" + "Gt 93 To 94 Weeks SUM 1" + "Gt 94 To 95 Weeks SUM 1" + "Gt 95 To 96 Weeks SUM 1" + "Gt 96 To 97 Weeks SUM 1" + "Gt 97 To 98 Weeks SUM 1" + "Gt 98 To 99 Weeks SUM 1" + "Gt 99 To 100 Weeks SUM 1" + "Gt 100 To 101 Weeks SUM 1" + "Gt 101 To 102 Weeks SUM 1" + "Gt 102 To 103 Weeks SUM 1" + "Gt 103 To 104 Weeks SUM 1" + "Gt 104 Weeks SUM 1") AS n
    FROM rtt_return_prev WHERE "RTT Part Type" = 'Part_2' AND "Treatment Function Code" = 'C_999'
    GROUP BY 1
),
jump_52 AS (
    SELECT 'returns.rtt_52_week_jump' AS check_id, n.trust, n.n AS count,
           COALESCE(p.n, 0) AS denominator, CAST(NULL AS VARCHAR) AS keys
    FROM over_52_now n
    LEFT JOIN over_52_prev p ON p.trust = n.trust
    WHERE n.n - COALESCE(p.n, 0) >= $jump_min
      AND n.n > (1 + $jump_fraction) * COALESCE(p.n, 0)
),
everything AS (
    SELECT * FROM part_2a
    UNION ALL SELECT * FROM total_mismatch
    UNION ALL SELECT * FROM zero
    UNION ALL SELECT * FROM swing
    UNION ALL SELECT * FROM identical
    UNION ALL SELECT * FROM short_waits
    UNION ALL SELECT * FROM jump_52
)
SELECT check_id, trust, 'rtt_events' AS feed, $census_date AS day, count, denominator, keys
FROM everything
