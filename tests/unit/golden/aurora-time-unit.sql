SELECT
  IFNULL(CONCAT('"', REPLACE(`id`, '"', '""'), '"'), _utf8mb4 X'5C4E') AS `"id"`,
  IFNULL(CONCAT('"', REPLACE(`created_at`, '"', '""'), '"'), _utf8mb4 X'5C4E') AS `"created_at"`,
  IFNULL(CONCAT('"', REPLACE(`amount`, '"', '""'), '"'), _utf8mb4 X'5C4E') AS `"amount"`,
  IFNULL(CONCAT('"', REPLACE(CAST(`ratio` AS DOUBLE), '"', '""'), '"'), _utf8mb4 X'5C4E') AS `"ratio"`,
  IFNULL(CONCAT('"', REPLACE(`score`, '"', '""'), '"'), _utf8mb4 X'5C4E') AS `"score"`,
  IFNULL(CONCAT('"', REPLACE(CONVERT(`note` USING utf8mb4), '"', '""'), '"'), _utf8mb4 X'5C4E') AS `"note"`,
  IFNULL(CONCAT('"', REPLACE(CONVERT(`payload` USING utf8mb4), '"', '""'), '"'), _utf8mb4 X'5C4E') AS `"payload"`,
  IFNULL(CONCAT('"', REPLACE(HEX(`raw`), '"', '""'), '"'), _utf8mb4 X'5C4E') AS `"raw"`,
  IFNULL(CONCAT('"', REPLACE(CAST(`flags` AS UNSIGNED), '"', '""'), '"'), _utf8mb4 X'5C4E') AS `"flags"`,
  IFNULL(CONCAT('"', REPLACE(`seen`, '"', '""'), '"'), _utf8mb4 X'5C4E') AS `"seen"`
FROM `payments`.`events` FORCE INDEX (`idx_created`)
WHERE `created_at` >= '2026-11-24 06:00:00.000000' AND `created_at` < '2026-11-24 12:00:00.000000' AND MONTH(`created_at`) <> 0 AND DAYOFMONTH(`created_at`) <> 0 AND (DAYOFMONTH(`created_at`) < 29 OR DAYOFMONTH(`created_at`) <= DAYOFMONTH(LAST_DAY(`created_at`)))
ORDER BY `created_at`, `id`
INTO OUTFILE S3 's3-eu-west-1://acme-archive/prod/events/year=2026/month=11/day=24/_aurora-00001'
CHARACTER SET utf8mb4 FORMAT CSV HEADER
FIELDS TERMINATED BY ',' ENCLOSED BY '' ESCAPED BY ''
LINES TERMINATED BY X'0A'
MANIFEST ON OVERWRITE ON
