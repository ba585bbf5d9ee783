-- title: RTT transfers out with the clock at the receiving ICS trust
-- description: One row per RTT period ended by a transfer out (21) dated in
--   a census month, as at its month-end census date: transfer_date t, the
--   period's clock start S. A candidate is a period of another trust, not
--   nullified, of the same linked patient (a valid NHS number, the one on
--   the 21) and treatment function code, with a known clock start s, as it
--   stood at the census date. The outcome: unlinkable (no valid number);
--   else clock_carried when a candidate has s = S; else clock_restarted
--   when one has t <= s <= t + 28 days (the earliest s, then trust code,
--   then pathway); else pending while t + 28 days is after the census date;
--   else unmatched. receiving_provider_org_code is the matched candidate's
--   trust (for carried: the lowest trust code, then pathway);
--   days_to_clock_start is s - t for a restarted clock (null otherwise).
--   28 days is icsw's choice (there is no national figure). pathway_key and
--   patient_key are keyed pseudonyms: no NHS number or pathway id is shown.
--   Always filter on census_date.
-- source: linkage spec sections 0 and 2; NHS Data Dictionary, Referral To
--   Treatment Period (a period moved to another provider keeps its start
--   date), RTT status 21
WITH states AS (
    SELECT
        census_date,
        period_start,
        trust,
        pathway_id,
        status,
        clock_start,
        transfer_date,
        treatment_function_code,
        icsw_patient_key(nhs_number) AS patient_key
    FROM rtt_census_states
),
transfers AS (
    SELECT *
    FROM states
    WHERE status = 'transferred_out' AND transfer_date >= period_start
),
candidates AS (
    SELECT
        t.census_date,
        t.trust,
        t.pathway_id,
        c.trust AS receiving_trust,
        c.pathway_id AS receiving_pathway,
        CASE
            WHEN c.clock_start = t.clock_start THEN 'clock_carried'
            ELSE 'clock_restarted'
        END AS outcome,
        c.clock_start - t.transfer_date AS days
    FROM transfers t
    JOIN states c
        ON c.census_date = t.census_date
        AND c.patient_key = t.patient_key
        AND c.treatment_function_code = t.treatment_function_code
        AND c.trust <> t.trust
    WHERE c.status <> 'nullified'
      AND c.clock_start IS NOT NULL
      AND (c.clock_start = t.clock_start
           OR (c.clock_start >= t.transfer_date AND c.clock_start <= t.transfer_date + INTERVAL '28 days'))
),
best AS (
    -- The match: a carried clock first, else the earliest restarted one;
    -- ties by receiving trust code, then pathway.
    SELECT
        census_date,
        trust,
        pathway_id,
        CASE WHEN bool_or(outcome = 'clock_carried') THEN 'clock_carried' ELSE 'clock_restarted' END
            AS outcome,
        first_value(receiving_trust ORDER BY
            CASE outcome WHEN 'clock_carried' THEN 0 ELSE 1 END, days, receiving_trust, receiving_pathway)
            AS receiving_trust,
        min(days) FILTER (WHERE outcome = 'clock_restarted') AS days
    FROM candidates
    GROUP BY census_date, trust, pathway_id
)
SELECT
    t.census_date,
    t.trust AS provider_org_code,
    icsw_record_key(t.pathway_id) AS pathway_key,
    t.patient_key,
    t.treatment_function_code,
    t.transfer_date,
    CASE
        WHEN t.patient_key IS NULL THEN 'unlinkable'
        WHEN b.outcome IS NOT NULL THEN b.outcome
        WHEN t.transfer_date + INTERVAL '28 days' > t.census_date THEN 'pending'
        ELSE 'unmatched'
    END AS outcome,
    b.receiving_trust AS receiving_provider_org_code,
    CASE WHEN b.outcome = 'clock_restarted' THEN b.days END AS days_to_clock_start
FROM transfers t
LEFT JOIN best b
    ON b.census_date = t.census_date AND b.trust = t.trust AND b.pathway_id = t.pathway_id
