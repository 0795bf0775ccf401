-- dbarchive: events, 2 archived day(s) 2026-05-01 .. 2026-05-02, parquet
CREATE EXTERNAL TABLE IF NOT EXISTS `events` (
  `id` decimal(20,0),
  `created_at` timestamp,
  `seen_at` timestamp,
  `amount` decimal(18,4),
  `huge` string,
  `ratio` float,
  `score` double,
  `note` string,
  `payload` binary,
  `flags` bigint,
  `took` string,
  `yr` smallint,
  `status` string,
  `small` smallint
)
PARTITIONED BY (`year` int, `month` int, `day` int)
STORED AS PARQUET
LOCATION 's3://acme-archive/prod/events/'
TBLPROPERTIES (
  'classification' = 'parquet',
  'projection.enabled' = 'true',
  'projection.year.type' = 'integer',
  'projection.year.range' = '2026,2036',
  'projection.year.digits' = '4',
  'projection.month.type' = 'integer',
  'projection.month.range' = '1,12',
  'projection.month.digits' = '2',
  'projection.day.type' = 'integer',
  'projection.day.range' = '1,31',
  'projection.day.digits' = '2',
  'storage.location.template' = 's3://acme-archive/prod/events/year=${year}/month=${month}/day=${day}/'
);
