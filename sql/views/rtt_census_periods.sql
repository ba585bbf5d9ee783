-- title: RTT periods by month-end census date and return part
-- description: One row per RTT period and return part it falls in, as at each
--   month-end census date: Part_1A / Part_1B (completed admitted / non-admitted
--   periods whose clock stopped in the month), Part_2 (incomplete at the census
--   date, known clock start), Part_2A (those of Part_2 with a decision to admit),
--   Part_3 (clock started in the month). Nullified periods are in no part;
--   periods transferred out are only in Part_3. days = stop date (1A, 1B) or
--   census date (2, 2A) minus clock start; band 1 holds 0-7 days, band k
--   (2..104) holds 7(k-1)+1..7k days, band 105 holds 729 days and over; both
--   are null for an unknown clock start. nhs_number is the period's patient
--   (the number on the event giving its treatment function; a pseudonym in
--   an analyst's session). Always filter on census_date.
--   Read from rtt_census_states.
-- source: returns spec section 1 (parts, weeks waited, bands, treatment
--   function rows); contract section 5 (periods from events, transfers out,
--   nullified periods)
WITH at_census AS (
    SELECT * FROM rtt_census_states
),
parts AS (
    SELECT *, CASE WHEN admitted THEN 'Part_1A' ELSE 'Part_1B' END AS part,
           clock_stop - clock_start AS days
    FROM at_census
    WHERE status = 'stopped' AND clock_stop >= period_start
    UNION ALL
    SELECT *, 'Part_2' AS part, census_date - clock_start AS days
    FROM at_census
    WHERE status = 'open' AND clock_start IS NOT NULL
    UNION ALL
    SELECT *, 'Part_2A' AS part, census_date - clock_start AS days
    FROM at_census
    WHERE status = 'open' AND clock_start IS NOT NULL AND has_decision_to_admit
    UNION ALL
    SELECT *, 'Part_3' AS part, CAST(NULL AS BIGINT) AS days
    FROM at_census
    WHERE clock_start >= period_start AND status <> 'nullified'
)
SELECT
    census_date,
    period_start,
    trust,
    pathway_id,
    period_number,
    commissioner_code,
    treatment_function_code,
    tf_row,
    part,
    clock_start,
    clock_stop,
    clock_start IS NOT NULL AS start_known,
    nhs_number,
    days,
    CASE
        WHEN days IS NULL THEN CAST(NULL AS INT)
        WHEN days <= 7 THEN 1
        WHEN days >= 729 THEN 105
        ELSE CAST((days + 6) / 7 AS INT)
    END AS band
FROM parts
