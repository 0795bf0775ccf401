"""Work units: one day exported as key ranges: plan key ranges, export + verify each unit, then publish the day.

For one table-day (units may run on any worker or Airflow task, in any order, and be re-run):

1. :func:`plan_units` reads the day's key bounds and row count (the export's own index-only
   statement), splits them with the range planner (``ranges.py``) and stores the plan; a re-plan
   with unchanged bounds keeps the same plan id, so units that landed are not redone.
   The plan names the generation its files belong to (``part-gGGGG-UUUUU-NNNNN``), staged when the
   day already has a committed manifest, which stays committed until the units replace it.
2. :func:`export_unit` clears what a killed attempt of *this* unit left, streams the unit's rows
   into its own part files, reads them back and compares them with the database's digest of the
   same rows, and only then writes the unit's record. Killed anywhere before that, the unit has no
   record and is redone; its rewritten files replace the old ones under the same names (never a
   committed file's), so nothing is duplicated.
3. :func:`publish_units` runs once every unit of the plan has a record: it publishes the manifest
   (all files, unit by unit, in key order; ``publish.py``), and checks that the database's row
   count of the day equals the units' rows (no row outside the planned ranges) before it records
   the day as verified. Units never grow a day whose purge has begun: that is ``grow.py``'s.
"""
