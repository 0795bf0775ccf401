DROP PROCEDURE IF EXISTS `payments`.`dbarchive_export_events`;
DELIMITER //
CREATE PROCEDURE `payments`.`dbarchive_export_events`(IN p_day DATE)
  SQL SECURITY INVOKER
  COMMENT 'dbarchive 0.1.0: one day of events to S3 (SELECT INTO OUTFILE S3); database-side mode, unverified'
BEGIN
  DECLARE v_day DATE;
  DECLARE v_zone VARCHAR(64) DEFAULT @@SESSION.time_zone;
  DECLARE v_start, v_end DATETIME(6);
  DECLARE v_rows BIGINT DEFAULT 0;
  DECLARE v_from, v_to, v_high DECIMAL(20,0);
  DECLARE v_part INT DEFAULT 0;
  SET time_zone = '+00:00';  -- TIMESTAMP values as UTC text, like dbarchive's export
  SET v_day = COALESCE(p_day, CURRENT_DATE() - INTERVAL 1 DAY);
  SET v_start = TIMESTAMP(v_day);
  SET v_end = TIMESTAMP(v_day + INTERVAL 1 DAY);
  SELECT COUNT(*), MIN(`id`), MAX(`id`) INTO v_rows, v_from, v_high
    FROM `payments`.`events` FORCE INDEX (`idx_created`) WHERE `created_at` >= v_start AND `created_at` < v_end AND MONTH(`created_at`) <> 0 AND DAYOFMONTH(`created_at`) <> 0 AND (DAYOFMONTH(`created_at`) < 29 OR DAYOFMONTH(`created_at`) <= DAYOFMONTH(LAST_DAY(`created_at`)));
  WHILE v_rows > 0 AND v_from <= v_high DO
    SET v_to = LEAST(v_high, v_from + 499999);
    SET @dbarchive_sql = CONCAT('SELECT IFNULL(CONCAT(''"'', REPLACE(`id`, ''"'', ''""''), ''"''), _utf8mb4 X''5C4E'') AS `"id"`, IFNULL(CONCAT(''"'', REPLACE(`created_at`, ''"'', ''""''), ''"''), _utf8mb4 X''5C4E'') AS `"created_at"`, IFNULL(CONCAT(''"'', REPLACE(`amount`, ''"'', ''""''), ''"''), _utf8mb4 X''5C4E'') AS `"amount"`, IFNULL(CONCAT(''"'', REPLACE(CAST(`ratio` AS DOUBLE), ''"'', ''""''), ''"''), _utf8mb4 X''5C4E'') AS `"ratio"`, IFNULL(CONCAT(''"'', REPLACE(`score`, ''"'', ''""''), ''"''), _utf8mb4 X''5C4E'') AS `"score"`, IFNULL(CONCAT(''"'', REPLACE(CONVERT(`note` USING utf8mb4), ''"'', ''""''), ''"''), _utf8mb4 X''5C4E'') AS `"note"`, IFNULL(CONCAT(''"'', REPLACE(CONVERT(`payload` USING utf8mb4), ''"'', ''""''), ''"''), _utf8mb4 X''5C4E'') AS `"payload"`, IFNULL(CONCAT(''"'', REPLACE(HEX(`raw`), ''"'', ''""''), ''"''), _utf8mb4 X''5C4E'') AS `"raw"`, IFNULL(CONCAT(''"'', REPLACE(CAST(`flags` AS UNSIGNED), ''"'', ''""''), ''"''), _utf8mb4 X''5C4E'') AS `"flags"`, IFNULL(CONCAT(''"'', REPLACE(`seen`, ''"'', ''""''), ''"''), _utf8mb4 X''5C4E'') AS `"seen"` FROM `payments`.`events` FORCE INDEX (`PRIMARY`) WHERE `id` >= ', v_from, ' AND `id` <= ', v_to, ' AND ', '`created_at` >= ', QUOTE(v_start), ' AND `created_at` < ', QUOTE(v_end), ' AND MONTH(`created_at`) <> 0 AND DAYOFMONTH(`created_at`) <> 0 AND (DAYOFMONTH(`created_at`) < 29 OR DAYOFMONTH(`created_at`) <= DAYOFMONTH(LAST_DAY(`created_at`)))', ' ORDER BY `id`', ' INTO OUTFILE S3 ', QUOTE(CONCAT('s3-eu-west-1://acme-archive/prod/events/', DATE_FORMAT(v_day, 'year=%Y/month=%m/day=%d'), '/part-', LPAD(v_part, 5, '0'))), ' CHARACTER SET utf8mb4 FORMAT CSV HEADER FIELDS TERMINATED BY '','' ENCLOSED BY '''' ESCAPED BY '''' LINES TERMINATED BY X''0A'' MANIFEST OFF OVERWRITE ON');
    PREPARE dbarchive_stmt FROM @dbarchive_sql;
    EXECUTE dbarchive_stmt;
    DEALLOCATE PREPARE dbarchive_stmt;
    SET v_from = v_to + 1, v_part = v_part + 1;
  END WHILE;
  SET time_zone = v_zone;
  SELECT v_day AS day, v_rows AS rows_in_day, v_part AS statements;
END//
DELIMITER ;

DROP PROCEDURE IF EXISTS `payments`.`dbarchive_purge_events`;
DELIMITER //
CREATE PROCEDURE `payments`.`dbarchive_purge_events`(IN p_today DATE, IN p_chunk_rows INT, IN p_pause_seconds DOUBLE)
  SQL SECURITY INVOKER
  COMMENT 'dbarchive 0.1.0: delete events rows older than 2 months in committed chunks; database-side mode, deletes without checking any archive'
BEGIN
  DECLARE v_zone VARCHAR(64) DEFAULT @@SESSION.time_zone;
  DECLARE v_today DATE;
  DECLARE v_before DATETIME(6);
  DECLARE v_chunk INT DEFAULT COALESCE(p_chunk_rows, 1000);
  DECLARE v_pause DOUBLE DEFAULT COALESCE(p_pause_seconds, 0.5);
  DECLARE v_deleted, v_chunks INT DEFAULT 0;
  DECLARE v_total BIGINT DEFAULT 0;
  IF v_chunk < 1 OR v_chunk > 100000 OR v_pause < 0 THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'p_chunk_rows must be 1 to 100000, p_pause_seconds >= 0';
  END IF;
  SET time_zone = '+00:00';
  SET v_today = COALESCE(p_today, CURRENT_DATE());
  SET v_before = TIMESTAMP(v_today - INTERVAL 2 MONTH);  -- rows of days before the retention cutoff
  chunks: LOOP
    DELETE FROM `payments`.`events` WHERE `created_at` < v_before AND MONTH(`created_at`) <> 0 AND DAYOFMONTH(`created_at`) <> 0 AND (DAYOFMONTH(`created_at`) < 29 OR DAYOFMONTH(`created_at`) <= DAYOFMONTH(LAST_DAY(`created_at`))) ORDER BY `created_at`, `id` LIMIT v_chunk;
    SET v_deleted = ROW_COUNT();
    COMMIT;
    IF v_deleted = 0 THEN
      LEAVE chunks;
    END IF;
    SET v_total = v_total + v_deleted, v_chunks = v_chunks + 1;
    DO SLEEP(v_pause);
  END LOOP;
  SET time_zone = v_zone;
  SELECT v_before AS deleted_before, v_total AS rows_deleted, v_chunks AS chunks;
END//
DELIMITER ;
