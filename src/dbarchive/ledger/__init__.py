"""The deletion ledger: a tamper-evident record of every row dbarchive deletes (``[ledger]``).

Every purge chunk, partition drop and restore into the original table appends records to a hash
chain per table-day under ``<table folder>/_ledger/<YYYY-MM-DD>/``, each created once
(``Storage.put_if_absent``) and optionally signed (HMAC-SHA256 or AWS KMS). A change that cannot
be made atomically with its record is announced first (an *intent*, stored before the MySQL
COMMIT) and resolved after (*committed* or *void*, by this run or, from the database, by the
next): no committed chunk is ever without its record, and a rerun never records one twice.
``dbarchive audit`` (``jobs/audit.py``) checks the chains, the archive files each record names,
and that the database holds none of the deleted keys.

- ``records``: names, canonical bytes, the chain's links, key sets (pure);
- ``signing``: HMAC / KMS signatures;
- ``chain``: one day's chain in the destination (tail, create-only append, reading);
- ``resolve``: deciding an open intent from the database;
- ``session``: one process's intents and outcomes in one day's chain;
- ``hooks``: the calls the purge, the partition drop, restore and the daily run make.
"""
