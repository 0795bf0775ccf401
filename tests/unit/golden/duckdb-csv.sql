-- dbarchive: events, 2 archived day(s) 2026-05-01 .. 2026-05-02, csv
INSTALL httpfs;
LOAD httpfs;
CREATE SECRET (TYPE s3, PROVIDER credential_chain);
CREATE OR REPLACE VIEW "events" AS
SELECT * FROM read_csv('s3://acme-archive/prod/events/*/*/*/part-*.csv.gz', header = true, delim = ',', quote = '"', escape = '"', nullstr = '\N', allow_quoted_nulls = false, hive_partitioning = true, hive_types = {'year': INTEGER, 'month': INTEGER, 'day': INTEGER}, columns = {'id': 'DECIMAL(20,0)', 'created_at': 'TIMESTAMP', 'seen_at': 'TIMESTAMP', 'amount': 'DECIMAL(18,4)', 'huge': 'VARCHAR', 'ratio': 'FLOAT', 'score': 'DOUBLE', 'note': 'VARCHAR', 'payload': 'VARCHAR', 'flags': 'BIGINT', 'took': 'VARCHAR', 'yr': 'SMALLINT', 'status': 'VARCHAR', 'small': 'SMALLINT'});
