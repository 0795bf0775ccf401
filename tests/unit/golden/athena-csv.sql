-- dbarchive: events, 2 archived day(s) 2026-05-01 .. 2026-05-02, csv
CREATE EXTERNAL TABLE IF NOT EXISTS `events_csv` (
  `id` string,
  `created_at` string,
  `seen_at` string,
  `amount` string,
  `huge` string,
  `ratio` string,
  `score` string,
  `note` string,
  `payload` string,
  `flags` string,
  `took` string,
  `yr` string,
  `status` string,
  `small` string
)
PARTITIONED BY (`year` int, `month` int, `day` int)
ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'
WITH SERDEPROPERTIES ('separatorChar' = ',', 'quoteChar' = '"', 'escapeChar' = '\u0001')
STORED AS TEXTFILE
LOCATION 's3://acme-archive/prod/events/'
TBLPROPERTIES (
  'classification' = 'csv',
  'skip.header.line.count' = '1',
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
-- Typed view: TIMESTAMP columns hold UTC; Athena's timestamp keeps milliseconds (cut,
-- not rounded: 23:59:59.999999 stays in its day);
-- binary columns are hex in the files (from_hex gives the bytes). A value that does
-- not parse as its type (a zero date) fails the query: read it from events_csv.
CREATE OR REPLACE VIEW "events" AS SELECT
  CAST(NULLIF("id", '\N') AS decimal(20,0)) AS "id",
  CAST(substr(NULLIF("created_at", '\N'), 1, 23) AS timestamp) AS "created_at",
  CAST(substr(NULLIF("seen_at", '\N'), 1, 23) AS timestamp) AS "seen_at",
  CAST(NULLIF("amount", '\N') AS decimal(18,4)) AS "amount",
  NULLIF("huge", '\N') AS "huge",
  CAST(NULLIF("ratio", '\N') AS real) AS "ratio",
  CAST(NULLIF("score", '\N') AS double) AS "score",
  NULLIF("note", '\N') AS "note",
  from_hex(NULLIF("payload", '\N')) AS "payload",
  CAST(NULLIF("flags", '\N') AS bigint) AS "flags",
  NULLIF("took", '\N') AS "took",
  CAST(NULLIF("yr", '\N') AS smallint) AS "yr",
  NULLIF("status", '\N') AS "status",
  CAST(NULLIF("small", '\N') AS smallint) AS "small",
  "year",
  "month",
  "day"
FROM "events_csv";
