"""Sources: where rows come from. ``Source`` (``protocol.py``) is what the core asks of one;
MySQL/MariaDB is the one implementation (``mysql.py``, split by concern into ``mysql_*.py``)."""

from __future__ import annotations

from dbarchive.sources.canonical import Column, quote_identifier
from dbarchive.sources.protocol import Source
from dbarchive.sources.table import DayWindow, ScanPlan, TableInfo

__all__ = ["Column", "DayWindow", "ScanPlan", "Source", "TableInfo", "quote_identifier"]
