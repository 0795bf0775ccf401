"""Aurora MySQL's server-side export, ``SELECT … INTO OUTFILE S3``, as an export strategy.

With ``export.strategy = "aurora-outfile"`` the database writes each work unit (a key range or
time slice of a day, planned by ``ranges.py`` through ``steps/units.py``) straight to S3, so no
row passes through dbarchive while exporting. What dbarchive still does:

- ``statement.py``: builds the statement (pure) so Aurora's bytes are the archive's CSV dialect;
- ``export.py``: runs it per unit (through an ``OutfileRunner``: Aurora, or an emulation), then
  has ``parts.py`` read Aurora's manifest and verify every part it lists, compares them with the
  database's digest of the same range, and records the unit once ``parts.py`` has moved the
  parts into the partition (a server-side copy, or an optional streaming re-compression into
  ``.csv.gz``); the day's ``_manifest.json`` is still written last, by ``steps/units.py``;
- ``checks.py``: what the server needs (Aurora, the privilege or role, the S3 role parameter,
  the bucket's region), and the clear refusal everywhere else;
- ``procedures.py``: the database-side mode — stored procedures that export a day and delete
  expired rows in chunks, for teams that keep that design (no verification: see its docstring).
"""
