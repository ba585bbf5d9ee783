-- title: Data-quality findings by trust
-- description: The findings for the last night and the latest complete month,
--   per trust, severity and check: how many findings and the rows they cover.
-- params:
-- source: data-quality issue; README (check ids and severities)
SELECT
    trust AS provider,
    scope,
    severity,
    check_id,
    count(*) AS findings,
    sum(count) AS rows_found
FROM quality_findings
GROUP BY trust, scope, severity, check_id
ORDER BY provider, scope, severity, check_id
