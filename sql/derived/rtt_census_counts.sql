-- title: RTT periods counted by month-end census date, return part and band
-- description: rtt_census_periods counted: one row per census date, provider,
--   commissioner, treatment function, return part, weekly band and whether the
--   clock start is known, with the number of periods. Stored with each version
--   for each trust's census dates, from the month of its earliest period state
--   to the month of its latest rtt_events snapshot: what the RTT return and its
--   checks read.
-- source: returns spec section 1 (parts, weeks waited, bands); contract
--   section 5 (periods from events)
SELECT
    census_date,
    trust,
    commissioner_code,
    treatment_function_code,
    tf_row,
    part,
    band,
    start_known,
    count(*) AS periods
FROM rtt_census_periods
GROUP BY census_date, trust, commissioner_code, treatment_function_code, tf_row, part, band, start_known
ORDER BY census_date, trust, commissioner_code, treatment_function_code, part, band, start_known
