-- dbarchive: events, 2 archived day(s) 2026-05-01 .. 2026-05-02, parquet
INSTALL httpfs;
LOAD httpfs;
CREATE SECRET (TYPE s3, PROVIDER credential_chain);
CREATE OR REPLACE VIEW "events" AS
SELECT * FROM read_parquet('s3://acme-archive/prod/events/*/*/*/part-*.parquet', hive_partitioning = true, hive_types = {'year': INTEGER, 'month': INTEGER, 'day': INTEGER}, union_by_name = true);
