-- title: RTT period states at each month-end census date
-- description: One row per RTT period as it stood at each month-end census
--   date: the state of rtt_period_history with valid_from on or before the
--   census date and valid_to after it (or none), so a period is at a census
--   date as the walk of the events dated on or before it leaves it.
--   period_start is the first day of the census month; tf_row the RTT
--   return's treatment function row (X06 for a code of no row); nhs_number
--   the period's patient (the number on the event giving its treatment
--   function; a pseudonym in an analyst's session). Always filter on
--   census_date.
-- source: contract section 5 (periods from events); returns spec section 1
--   (treatment function rows)
SELECT
    c.census_date,
    CAST(date_trunc('month', c.census_date) AS DATE) AS period_start,
    h.trust,
    h.pathway_id,
    h.period_number,
    h.status,
    h.clock_start,
    h.clock_stop,
    h.transfer_date,
    h.admitted,
    h.has_decision_to_admit,
    h.commissioner_code,
    h.treatment_function_code,
    COALESCE(t.rtt_row, 'X06') AS tf_row,
    h.nhs_number
FROM rtt_census_dates c
JOIN rtt_period_history h
    ON h.valid_from <= c.census_date
    AND (h.valid_to IS NULL OR h.valid_to > c.census_date)
LEFT JOIN ref_treatment_functions t ON t.code = h.treatment_function_code
