-- title: Rows quarantined by reason
-- description: Per trust, feed and reason, the rows read but not stored.
-- source: the quarantine (README, Loading)
SELECT trust, feed, reason, count(*) AS rows
FROM quarantine
GROUP BY trust, feed, reason
ORDER BY trust, feed, reason
