"""The AUTO_INCREMENT counter read from SHOW CREATE TABLE (steps/key_reuse.py)."""

from __future__ import annotations

from dbarchive.steps.key_reuse import key_counter

PARTITIONED = b"""CREATE TABLE `t` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `c` datetime NOT NULL,
  PRIMARY KEY (`id`,`c`)
) ENGINE=InnoDB AUTO_INCREMENT=3 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci
 PARTITION BY RANGE  COLUMNS(`c`)
(PARTITION `p1` VALUES LESS THAN ('2026-01-01') ENGINE = InnoDB,
 PARTITION `p2` VALUES LESS THAN (MAXVALUE) ENGINE = InnoDB)"""


def test_the_counter_of_a_partitioned_table_is_its_table_option() -> None:
    """Its options are followed by the partitions' parentheses: read from the end it was 1,
    which would have refused every changed row of a purged day as a reused key."""
    assert key_counter(PARTITIONED, "id") == 3


def test_a_table_that_has_not_used_its_counter_yet_is_at_1() -> None:
    fresh = PARTITIONED.replace(b" AUTO_INCREMENT=3", b"")
    assert key_counter(fresh, "id") == 1


def test_a_key_without_auto_increment_has_no_counter() -> None:
    plain = PARTITIONED.replace(b"NOT NULL AUTO_INCREMENT,", b"NOT NULL,")
    assert key_counter(plain, "id") is None
    assert key_counter(PARTITIONED, "c") is None
