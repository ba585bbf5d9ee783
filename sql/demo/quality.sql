-- title: Data-quality findings (icsw quality; SQL table quality_findings)
-- description: Per scope, trust, severity and check, the findings of the
--   latest night and month (icsw quality; SQL table quality_findings).
-- source: README, Data quality
SELECT scope, trust, severity, check_id, count(*) AS findings, sum(count) AS rows
FROM quality_findings
GROUP BY scope, trust, severity, check_id
ORDER BY scope, trust, severity, check_id
