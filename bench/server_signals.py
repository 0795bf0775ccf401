"""Server signals sampled beside the production load (`frontier.py --signals`, a diagnostic).

Which signal the server offers rises with what production feels, where a read probe does not?
A thread polls ``SHOW GLOBAL STATUS`` every ``interval`` seconds on its own session and keeps
each sample; a window's statistics are the mean and p99 of the gauges (Threads_running: by
Little's law the application's statements in the server grow with their latency) and the rate
per second of the counters. The polling itself is a little load: off by default.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from data import connect

# Innodb_checkpoint_age (MariaDB), or the pair of LSNs (MySQL 8.0.30+): the redo log's fill,
# which the throttle's max_redo_fill reads.
GAUGES = ("Threads_running", "Innodb_os_log_pending_fsyncs", "Innodb_data_pending_fsyncs",
          "Innodb_checkpoint_age", "Innodb_redo_log_current_lsn",
          "Innodb_redo_log_checkpoint_lsn")  # fmt: skip
COUNTERS = ("Innodb_log_waits", "Innodb_row_lock_waits", "Innodb_data_fsyncs",
            "Innodb_buffer_pool_wait_free", "Innodb_os_log_written")  # fmt: skip
_SQL = "SHOW GLOBAL STATUS WHERE Variable_name IN ({})".format(
    ", ".join(f"'{name}'" for name in GAUGES + COUNTERS)
)


class ServerSignals:
    """Start it, mark windows with time.monotonic(), stop it, then ask for a window's stats."""

    def __init__(self, port: int = 3306, interval: float = 0.05) -> None:
        self.port, self.interval = port, interval
        self.samples: list[tuple[float, dict[str, float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        conn = connect(port=self.port)
        try:
            cur = conn.cursor()
            while not self._stop.is_set():
                started = time.monotonic()
                cur.execute(_SQL)
                self.samples.append((started, {k: float(v) for k, v in cur.fetchall()}))
                self._stop.wait(max(0.0, started + self.interval - time.monotonic()))
        finally:
            conn.close()

    def stats(self, start: float, end: float) -> dict[str, Any]:
        """Gauges' mean and p99, counters' rate per second, over the samples in [start, end)."""
        window = [values for t, values in self.samples if start <= t < end]
        if len(window) < 2:
            return {}
        out: dict[str, Any] = {"samples": len(window)}
        for name in GAUGES:
            series = sorted(v.get(name, 0.0) for v in window)
            out[name] = {
                "mean": round(sum(series) / len(series), 3),
                "p99": series[min(len(series) - 1, int(0.99 * len(series)))],
            }
        seconds = end - start
        for name in COUNTERS:
            out[f"{name}_per_s"] = round(
                (window[-1].get(name, 0) - window[0].get(name, 0)) / seconds, 2
            )
        return out
