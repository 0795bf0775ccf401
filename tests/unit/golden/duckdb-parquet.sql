-- dbarchive: events, 2 archived day(s) 2026-05-01 .. 2026-05-02, parquet
INSTALL httpfs;
LOAD httpfs;
INSTALL aws;
LOAD aws;
CREATE OR REPLACE SECRET "dbarchive_events" (TYPE s3, PROVIDER credential_chain, SCOPE 's3://acme-archive/prod/events/');
CREATE OR REPLACE VIEW "events" AS
SELECT "id", "created_at", "seen_at", "amount", "huge", "ratio", "score", "note", "payload", "flags", "took", "yr", "status", "small", "year", "month", "day"
FROM read_parquet('s3://acme-archive/prod/events/*/*/*/part-*.parquet', hive_partitioning = true, hive_types = {'year': INTEGER, 'month': INTEGER, 'day': INTEGER}, union_by_name = true);
