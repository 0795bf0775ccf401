-- dbarchive: events, 2 archived day(s) 2026-05-01 .. 2026-05-02, csv
CREATE TABLE IF NOT EXISTS `events` (
  `id` DECIMAL(20,0),
  `created_at` TIMESTAMP_NTZ,
  `seen_at` TIMESTAMP,
  `amount` DECIMAL(18,4),
  `huge` STRING,
  `ratio` FLOAT,
  `score` DOUBLE,
  `note` STRING,
  `payload` STRING,
  `flags` BIGINT,
  `took` STRING,
  `yr` SMALLINT,
  `status` STRING,
  `small` SMALLINT,
  `year` INT,
  `month` INT,
  `day` INT
)
USING CSV
OPTIONS (
  header 'true',
  sep ',',
  quote '"',
  escape '"',
  multiLine 'true',
  nullValue '\\N',
  mode 'FAILFAST',
  timestampFormat 'yyyy-MM-dd HH:mm:ss[.SSSSSS]',
  timestampNTZFormat 'yyyy-MM-dd HH:mm:ss[.SSSSSS]',
  timeZone 'UTC',
  encoding 'UTF-8'
)
PARTITIONED BY (`year`, `month`, `day`)
LOCATION 's3://acme-archive/prod/events/';
MSCK REPAIR TABLE `events`;
