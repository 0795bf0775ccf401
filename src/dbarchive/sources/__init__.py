"""Sources: where rows come from. MySQL/MariaDB is the one implementation (``mysql.py``)."""

from __future__ import annotations

from dbarchive.sources.canonical import Column, quote_identifier
from dbarchive.sources.table import DayWindow, ScanPlan, TableInfo

__all__ = ["Column", "DayWindow", "ScanPlan", "TableInfo", "quote_identifier"]
