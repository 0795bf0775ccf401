"""The benchmark table: a fintech-like payments log (~400 bytes/row), filled server-side."""

from __future__ import annotations

DDL = """
CREATE TABLE events (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  created_at DATETIME(6) NOT NULL,
  account_id INT UNSIGNED NOT NULL,
  event_type VARCHAR(20) NOT NULL,
  amount DECIMAL(18,4) NULL,
  currency CHAR(3) NOT NULL,
  ip VARBINARY(16) NULL,
  payload JSON NULL,
  message TEXT NULL,
  KEY idx_created_at (created_at),
  KEY idx_account (account_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""
FILL = """
INSERT INTO events (created_at, account_id, event_type, amount, currency, ip, payload, message)
SELECT TIMESTAMP(%(day)s) + INTERVAL (seq * (86400 * %(days)s - 1) DIV %(n)s) SECOND + INTERVAL seq MOD 1000000 MICROSECOND,
       seq MOD 50000, ELT(1 + seq MOD 4, 'authorize', 'capture', 'refund', 'chargeback'),
       IF(seq MOD 17 = 0, NULL, (seq MOD 100000) / 100), ELT(1 + seq MOD 3, 'EUR', 'USD', 'GBP'),
       IF(seq MOD 11 = 0, NULL, UNHEX(LPAD(HEX(seq), 8, '0'))),
       IF(seq MOD 13 = 0, NULL, CONCAT('{"n": ', seq, ', "tags": ["a", "ü"], "ok": ', seq MOD 2 = 0, '}')),
       CONCAT('payment ', seq, ' for "order" #', seq MOD 9973, ', customer note: Zahlung über € ✓', IF(seq MOD 5 = 0, '\nsecond line', ''))
FROM seq_1_to_%(n)s
"""


def fill(
    conn: object, schema: str, rows: int, first_day: str = "2026-01-15", days: int = 1
) -> None:
    """(Re)create ``schema`` with ``rows`` rows spread evenly over ``days`` days from ``first_day``."""
    cur = conn.cursor()  # type: ignore[attr-defined]
    cur.execute(f"DROP DATABASE IF EXISTS `{schema}`")
    cur.execute(f"CREATE DATABASE `{schema}`")
    cur.execute(f"USE `{schema}`")
    cur.execute(DDL)
    cur.execute(FILL % {"n": rows, "day": f"'{first_day}'", "days": days})
    cur.close()
