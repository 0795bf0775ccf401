-- dbarchive: events, 2 archived day(s) 2026-05-01 .. 2026-05-02, parquet
CREATE TABLE IF NOT EXISTS `events` (
  `id` DECIMAL(20,0),
  `created_at` TIMESTAMP_NTZ,
  `seen_at` TIMESTAMP,
  `amount` DECIMAL(18,4),
  `huge` STRING,
  `ratio` FLOAT,
  `score` DOUBLE,
  `note` STRING,
  `payload` BINARY,
  `flags` BIGINT,
  `took` STRING,
  `yr` SMALLINT,
  `status` STRING,
  `small` SMALLINT,
  `year` INT,
  `month` INT,
  `day` INT
)
USING PARQUET
PARTITIONED BY (`year`, `month`, `day`)
LOCATION 's3://acme-archive/prod/events/';
MSCK REPAIR TABLE `events`;
