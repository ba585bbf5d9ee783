-- title: Open RTT pathways with their patient's waits at other ICS trusts
-- description: One row per open RTT period (Part_2 of the RTT return: open at
--   the census date with a known clock start) of every trust at each
--   month-end census date. also_open_same_tf when the same linked patient (a
--   valid NHS number, the one on the event giving the period's treatment
--   function) has an open period at another trust with the same treatment
--   function code (108 is not 110, though both are row C_110);
--   also_open_other_tf_only when the patient is open elsewhere, never with
--   the same code. The same trust's other pathways do not count. tf_row is
--   the RTT return's row. pathway_key and patient_key are keyed pseudonyms
--   (patient_key null when the number cannot link): no NHS number or
--   pathway id is shown. Always filter on census_date.
-- source: linkage spec sections 0 and 2; returns spec section 1 (Part_2,
--   treatment function rows)
WITH open_periods AS (
    SELECT
        census_date,
        trust,
        pathway_id,
        treatment_function_code,
        tf_row,
        icsw_patient_key(nhs_number) AS patient_key
    FROM rtt_census_periods
    WHERE part = 'Part_2'
),
elsewhere AS (
    SELECT
        o.census_date,
        o.trust,
        o.pathway_id,
        bool_or(e.treatment_function_code = o.treatment_function_code) AS same_tf
    FROM open_periods o
    JOIN open_periods e
        ON e.census_date = o.census_date
        AND e.patient_key = o.patient_key
        AND e.trust <> o.trust
    GROUP BY o.census_date, o.trust, o.pathway_id
)
SELECT
    o.census_date,
    o.trust AS provider_org_code,
    icsw_record_key(o.pathway_id) AS pathway_key,
    o.patient_key,
    o.treatment_function_code,
    o.tf_row,
    COALESCE(w.same_tf, false) AS also_open_same_tf,
    COALESCE(NOT w.same_tf, false) AS also_open_other_tf_only
FROM open_periods o
LEFT JOIN elsewhere w
    ON w.census_date = o.census_date AND w.trust = o.trust AND w.pathway_id = o.pathway_id
