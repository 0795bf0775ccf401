"""The jobs a command or a DAG task runs, over the steps: the daily run, backfill, restore, status, capacity, the demo."""
